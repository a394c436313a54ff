"""Guangdong's 21 prefecture-level cities, plus "other" (外省及境外)."""

REGIONS = {
    "guangzhou": ("广州", "Guangzhou"),
    "shenzhen": ("深圳", "Shenzhen"),
    "zhuhai": ("珠海", "Zhuhai"),
    "shantou": ("汕头", "Shantou"),
    "foshan": ("佛山", "Foshan"),
    "shaoguan": ("韶关", "Shaoguan"),
    "zhanjiang": ("湛江", "Zhanjiang"),
    "zhaoqing": ("肇庆", "Zhaoqing"),
    "jiangmen": ("江门", "Jiangmen"),
    "maoming": ("茂名", "Maoming"),
    "huizhou": ("惠州", "Huizhou"),
    "meizhou": ("梅州", "Meizhou"),
    "shanwei": ("汕尾", "Shanwei"),
    "heyuan": ("河源", "Heyuan"),
    "yangjiang": ("阳江", "Yangjiang"),
    "qingyuan": ("清远", "Qingyuan"),
    "dongguan": ("东莞", "Dongguan"),
    "zhongshan": ("中山", "Zhongshan"),
    "chaozhou": ("潮州", "Chaozhou"),
    "jieyang": ("揭阳", "Jieyang"),
    "yunfu": ("云浮", "Yunfu"),
    "other": ("其他地区", "Other"),
}


def region_label(code, locale="zh_CN"):
    if code not in REGIONS:
        return code or ""
    zh, en = REGIONS[code]
    return en if str(locale).startswith("en") else zh
