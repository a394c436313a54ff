"""Classification tables: Nice classes and similar groups (类似群), the IPC scheme, Locarno classes.

Loaded once from the CSVs copied into ``listings/data/`` (see its SOURCES.md for
provenance and licences). The Nice headings are the 2018 Chinese wording and the
WIPO English headings; the similar-group table is the 2018 《类似商品和服务区分表》.
The IPC table reaches subclass level (IPC 2026.01 Chinese titles, 2006 English).
"""
import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class NiceClass:
    number: int
    kind: str  # goods | services
    short_zh: str
    short_en: str
    heading_zh: str
    heading_en: str

    def label(self, locale="zh_CN"):
        short = self.short_en if str(locale).startswith("en") else self.short_zh
        return f"{self.number} — {short}"


@dataclass(frozen=True)
class SimilarGroup:
    code: str  # "0901"
    nice_class: int
    name_zh: str


@dataclass(frozen=True)
class IpcEntry:
    code: str
    level: str  # section | class | subclass
    parent: str
    title_zh: str
    title_en: str


# Everyday short names used on Chinese trademark sites (zh) and by the USPTO (en).
_NICE_SHORT = {
    1: ("化学原料", "Chemicals"), 2: ("颜料油漆", "Paints"), 3: ("日化用品", "Cosmetics and cleaning preparations"),
    4: ("燃料油脂", "Lubricants and fuels"), 5: ("医药", "Pharmaceuticals"), 6: ("金属材料", "Metal goods"),
    7: ("机械设备", "Machinery"), 8: ("手工器械", "Hand tools"), 9: ("科学仪器", "Electrical and scientific apparatus"),
    10: ("医疗器械", "Medical apparatus"), 11: ("灯具空调", "Environmental control apparatus"),
    12: ("运输工具", "Vehicles"), 13: ("军火烟火", "Firearms and fireworks"), 14: ("珠宝钟表", "Jewellery and clocks"),
    15: ("乐器", "Musical instruments"), 16: ("办公用品", "Paper goods and printed matter"),
    17: ("橡胶制品", "Rubber goods"), 18: ("皮革皮具", "Leather goods"), 19: ("建筑材料", "Building materials"),
    20: ("家具", "Furniture"), 21: ("厨房洁具", "Housewares and glass"), 22: ("绳网袋篷", "Cordage and fibres"),
    23: ("纱线丝", "Yarns and threads"), 24: ("布料床单", "Fabrics"), 25: ("服装鞋帽", "Clothing"),
    26: ("纽扣拉链", "Fancy goods"), 27: ("地毯席垫", "Floor coverings"), 28: ("健身器材", "Toys and sporting goods"),
    29: ("食品", "Meats and processed foods"), 30: ("方便食品", "Staple foods"), 31: ("饲料种籽", "Agricultural products"),
    32: ("啤酒饮料", "Light beverages"), 33: ("酒", "Wines and spirits"), 34: ("烟草烟具", "Smokers' articles"),
    35: ("广告销售", "Advertising and business"), 36: ("金融物管", "Insurance and finance"),
    37: ("建筑修理", "Construction and repair"), 38: ("通讯服务", "Telecommunications"),
    39: ("运输贮藏", "Transport and storage"), 40: ("材料加工", "Treatment of materials"),
    41: ("教育娱乐", "Education and entertainment"), 42: ("科技服务", "Computer and scientific services"),
    43: ("餐饮住宿", "Hotels and restaurants"), 44: ("医疗园艺", "Medical, beauty and agricultural services"),
    45: ("社会服务", "Personal and legal services"),
}

# Locarno classification (15th edition) class headings.
LOCARNO_CLASSES = {
    1: ("食品", "Foodstuffs"),
    2: ("服装和服饰用品", "Articles of clothing and haberdashery"),
    3: ("其他类未列入的旅行用品、箱包、阳伞和个人用品", "Travel goods, cases, parasols and personal belongings"),
    4: ("刷子", "Brushware"),
    5: ("纺织品、人造和天然材料片材", "Textile piecegoods, artificial and natural sheet material"),
    6: ("家具和家居用品", "Furnishing"),
    7: ("其他类未列入的家用物品", "Household goods, not elsewhere specified"),
    8: ("工具和五金器具", "Tools and hardware"),
    9: ("用于商品运输或装卸的包装和容器", "Packages and containers for the transport or handling of goods"),
    10: ("钟、表和其他计量仪器，检测、信号仪器", "Clocks and watches and other measuring, checking and signalling "
                                         "instruments"),
    11: ("装饰品", "Articles of adornment"),
    12: ("运输或提升工具", "Means of transport or hoisting"),
    13: ("发电、配电或变电设备", "Equipment for production, distribution or transformation of electricity"),
    14: ("录音、电信或数据处理设备", "Recording, telecommunication or data processing equipment"),
    15: ("其他类未列入的机械", "Machines, not elsewhere specified"),
    16: ("照相设备、电影摄影设备和光学设备", "Photographic, cinematographic and optical apparatus"),
    17: ("乐器", "Musical instruments"),
    18: ("印刷和办公机械", "Printing and office machinery"),
    19: ("文具用品、办公用品、美术用品和教学用品", "Stationery and office equipment, artists' and teaching materials"),
    20: ("销售和广告设备、标志", "Sales and advertising equipment, signs"),
    21: ("游戏器具、玩具、帐篷和体育用品", "Games, toys, tents and sports goods"),
    22: ("武器、烟火用具，用于狩猎、捕鱼及捕杀有害动物的器具", "Arms, pyrotechnic articles, articles for hunting, "
                                                  "fishing and pest killing"),
    23: ("液体分配设备、卫生、供暖、通风和空调设备、固体燃料", "Fluid distribution equipment, sanitary, heating, "
                                                "ventilation and air-conditioning equipment, solid fuel"),
    24: ("医疗和实验室设备", "Medical and laboratory equipment"),
    25: ("建筑构件和施工元件", "Building units and construction elements"),
    26: ("照明设备", "Lighting apparatus"),
    27: ("烟草和吸烟用具", "Tobacco and smokers' supplies"),
    28: ("药品、化妆品、梳妆用品和器具", "Pharmaceutical and cosmetic products, toilet articles and apparatus"),
    29: ("防火灾、防事故救援装置和设备", "Devices and equipment against fire hazards, for accident prevention "
                                   "and for rescue"),
    30: ("动物的管理与驯养设备", "Articles for the care and handling of animals"),
    31: ("其他类未列入的食品或饮料制作机械和设备", "Machines and appliances for preparing food or drink, "
                                         "not elsewhere specified"),
    32: ("图形符号、标识、表面图案、纹饰", "Graphic symbols and logos, surface patterns, ornamentation"),
    99: ("其他杂项", "Miscellaneous"),
}


def _rows(name):
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@functools.cache
def nice_classes():
    """{1: NiceClass, …, 45: NiceClass}."""
    table = {}
    for row in _rows("tm_nice_classes.csv"):
        number = int(row["class_code"])
        short_zh, short_en = _NICE_SHORT[number]
        table[number] = NiceClass(number, row["kind"], short_zh, short_en, row["heading_zh"], row["heading_en"])
    return table


@functools.cache
def similar_groups():
    """{"0901": SimilarGroup, …} from the 2018 similar-goods table."""
    return {row["group_code"]: SimilarGroup(row["group_code"], int(row["class_code"]), row["name_zh"])
            for row in _rows("tm_similar_groups_2018.csv")}


@functools.cache
def similar_items():
    """{"0901": ["电子计算机", …]}: the goods/service items of each group (for suggestions and the demo)."""
    items = {}
    for row in _rows("tm_similar_items_2018.csv"):
        items.setdefault(row["group_code"], []).append(row["name_zh"])
    return items


def groups_of_class(number):
    return [g for g in similar_groups().values() if g.nice_class == number]


@functools.cache
def ipc_scheme():
    """{"H": IpcEntry, "H04": IpcEntry, "H04L": IpcEntry, …}."""
    return {row["code"]: IpcEntry(row["code"], row["level"], row["parent_code"], row["title_zh"], row["title_en"])
            for row in _rows("ipc_scheme_subclass.csv")}


def short_title(text, limit=40):
    """A title cut before its references ("（…入H04M）") and leaked index text, at most ``limit`` characters."""
    text = (text or "").strip()
    stops = ("（", "(", " ") if re.search(r"[\u4e00-\u9fff]", text) else ("（", "(")
    for stop in stops:
        head = text.split(stop, 1)[0].strip()
        if head:
            text = head
    text = text.rstrip("；;，,")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ipc_title(code, locale="zh_CN"):
    """The shortened title of an IPC section/class/subclass; falls back to the other language, then ''."""
    entry = ipc_scheme().get(code)
    if entry is None:
        return ""
    first, second = (entry.title_en, entry.title_zh) if str(locale).startswith("en") else (entry.title_zh,
                                                                                            entry.title_en)
    title = first or second
    if title and title[:12].isupper():
        title = title.capitalize()
    return short_title(title, 60 if str(locale).startswith("en") else 40)


def ipc_section_name(letter, locale="zh_CN"):
    return ipc_title(letter, locale)


IPC_SECTIONS = tuple("ABCDEFGH")


def ipc_label(code, locale="zh_CN"):
    """``H04L — 电通信技术 · 数字信息的传输`` for an IPC code (symbol or subclass): class title, then subclass title."""
    subclass = code.replace(" ", "")[:4]
    keys = list(dict.fromkeys((subclass[:3], subclass)))  # a section or class label has one part
    parts = [t for t in (ipc_title(k, locale) for k in keys) if t]
    return f"{subclass} — " + " · ".join(parts) if parts else subclass


def nice_label(number, locale="zh_CN"):
    entry = nice_classes().get(int(number))
    if entry is None:
        return str(number)
    prefix = f"Class {entry.number}" if str(locale).startswith("en") else f"第{entry.number}类"
    short = entry.short_en if str(locale).startswith("en") else entry.short_zh
    return f"{prefix} — {short}"


def similar_group_label(code):
    group = similar_groups().get(code)
    return f"{code} {group.name_zh}" if group else code


def locarno_label(code, locale="zh_CN"):
    klass = int(code.split("-")[0])
    names = LOCARNO_CLASSES.get(klass)
    if not names:
        return code
    return f"{code} — {names[1] if str(locale).startswith('en') else names[0]}"
