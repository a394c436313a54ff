"""Watermarks for data-room downloads: the viewer's organisation (or name) and the time, over every page
of a PDF (a WeasyPrint-drawn overlay merged onto each page with pypdf) and across an image (Pillow).

Bounded work: a PDF of more than MAX_PDF_PAGES pages or an image of more than MAX_PIXELS pixels is refused
at upload (``check``) and again here. A file that cannot be read is a ValidationError, never served bare.
"""
import importlib
import io
import warnings
from html import escape

from flask_babel import gettext as _

from marketplace.kernel.errors import ValidationError

MAX_PDF_PAGES = 500
MAX_PIXELS = 40_000_000
MAX_OVERLAY_SIZES = 8  # distinct page sizes drawn per file; more are scaled from the first
FONT_PATHS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def quiet_import(name):
    """Import ``name`` lazily, ignoring the ImportWarning a foreign import hook without find_spec raises (a test
    tool's; under filterwarnings=error it would be a 500), as escrow.contracts does for WeasyPrint."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)
        return importlib.import_module(name)


def _unreadable():
    return ValidationError(_("文件无法读取"), {"document": _("PDF 或图片已损坏、加密或过大")})


def check(data, kind):
    """At upload: the file opens, and is within the page / pixel bounds."""
    if kind == "pdf":
        reader = _pdf_reader(data)
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ValidationError(_("PDF 页数过多"), {"document": _("最多 %(n)s 页", n=MAX_PDF_PAGES)})
    else:
        _open_image(data)


def _pdf_reader(data):
    PdfReader = quiet_import("pypdf").PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise _unreadable()
        len(reader.pages)
        return reader
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds for a broken file
        raise _unreadable() from exc


def _open_image(data):
    Image = quiet_import("PIL.Image")

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ValidationError(_("图片过大"), {"document": _("最多 %(n)s 万像素", n=MAX_PIXELS // 10_000)})
        image.load()
        return image
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's errors for broken or bomb images
        raise _unreadable() from exc


def apply(data, kind, text):
    """``data`` with ``text`` drawn across it (same type). A file that cannot be marked is never served bare:
    a ValidationError instead."""
    try:
        if kind == "pdf":
            return _pdf(data, text)
        return _image(data, kind, text)
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf / WeasyPrint / Pillow on an odd file
        raise _unreadable() from exc


def _overlay(width, height, text):
    HTML = quiet_import("weasyprint").HTML
    PdfReader = quiet_import("pypdf").PdfReader

    line = escape(text)
    rows = "".join(f'<div class="r">{line} &#160; {line}</div>' for _ in range(max(3, int(height // 120))))
    page = f"""<html><head><style>
      @page {{ size: {width}pt {height}pt; margin: 0 }}
      body {{ margin: 0; font-family: "Noto Sans CJK SC", sans-serif; }}
      .w {{ position: absolute; left: -20%; top: 0; width: 140%; transform: rotate(-30deg); transform-origin: 50% 50%;
           color: rgba(200, 30, 30, 0.18); font-size: 16pt; line-height: 120pt; white-space: nowrap; }}
      .f {{ position: fixed; bottom: 6pt; left: 6pt; font-size: 7pt; color: rgba(120, 0, 0, 0.6); }}
    </style></head><body><div class="w">{rows}</div><div class="f">{line}</div></body></html>"""
    return PdfReader(io.BytesIO(HTML(string=page, base_url=None).write_pdf())).pages[0]


def _pdf(data, text):
    PdfWriter = quiet_import("pypdf").PdfWriter

    reader = _pdf_reader(data)
    if len(reader.pages) > MAX_PDF_PAGES:
        raise _unreadable()
    writer = PdfWriter(clone_from=reader)
    overlays = {}
    for page in writer.pages:
        box = page.mediabox
        size = (min(max(round(abs(float(box.width)), 1), 72.0), 14400.0),
                min(max(round(abs(float(box.height)), 1), 72.0), 14400.0))
        if size not in overlays and len(overlays) < MAX_OVERLAY_SIZES:
            overlays[size] = _overlay(size[0], size[1], text)
        overlay = overlays.get(size) or next(iter(overlays.values()))
        page.merge_page(overlay, over=True)
    writer.add_metadata({"/Subject": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _font(size):
    ImageFont = quiet_import("PIL.ImageFont")

    for path in FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _image(data, kind, text):
    Image, ImageDraw = quiet_import("PIL.Image"), quiet_import("PIL.ImageDraw")

    image = _open_image(data).convert("RGBA")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, min(image.width, image.height) // 24)
    font = _font(size)
    step_y = size * 5
    for row, y in enumerate(range(0, image.height, step_y)):
        x = -(row % 2) * size * 6
        while x < image.width:
            draw.text((x, y), text, font=font, fill=(200, 30, 30, 70))
            x += int(draw.textlength(text, font=font)) + size * 4
    draw.text((6, image.height - size - 6), text, font=font, fill=(120, 0, 0, 160))
    merged = Image.alpha_composite(image, layer)
    out = io.BytesIO()
    if kind == "png":
        merged.save(out, "PNG")
    else:
        merged.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()
