#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (run from anywhere; idempotent).

Small real inputs: CSV in UTF-8, UTF-8 with BOM and GB18030, with quotes and other delimiters;
XLSX workbooks laid out as the ingest tests' `common::xlsx` helper writes them; JSON samples;
CKAN and data-API parameter strings; cell values for the privacy detectors. The fuzzers add
what they find to the same folders when run locally; only these seeds are committed.
"""
import io
import os
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- CSV -----------------------------------------------------------------------------------
villages = "code,name,population,updated\n110101001,东华门街道,23000,2023-05-17\n110101002,景山街道,18500,2023/5/1\n110101003,\"交道口街道, 北\",,2023年5月17日\n"
put("csv_reader", "utf8.csv", villages)
put("csv_reader", "bom.csv", b"\xef\xbb\xbf" + villages.encode("utf-8"))
put("csv_reader", "gb18030.csv", villages.encode("gb18030"))
put("csv_reader", "semicolon.csv", "id;phone;email\n1;13812345678;zhang.san@example.com\n2;010-62345678;\n")
put("csv_reader", "tab.tsv", "\tname\tamount\n1\t张三\t1,234.50\n2\t李四\t-7e3\n")
put("csv_reader", "quotes.csv", 'a,b\n"say ""hi""","multi\nline"\n"",x\n')
put("csv_reader", "ragged.csv", "a,b,c\n1,2\n1,2,3,4\n")
put("csv_reader", "crlf_pipe.csv", "x|y\r\n1|TRUE\r\n2|false\r\n")
put("csv_reader", "dup_header.csv", "a,a,\n1,2,3\n")

# --- JSON ----------------------------------------------------------------------------------
put("json_reader", "objects.json", '[{"code": "110101", "name": "东城区", "n": 1.5, "ok": true, "x": null},\n {"code": "110102", "name": "西城区", "n": 2, "ok": false}]')
put("json_reader", "nested.json", '[{"a": {"b": [1, 2]}, "c": "\\u4e2d\\ud83d\\ude00"}, {"a": "s", "extra": 1}]')
put("json_reader", "empty.json", "[]")
put("json_reader", "bom_gb.json", b"\xef\xbb\xbf" + '[{"名称": "道路"}]'.encode("utf-8"))
put("json_reader", "gb18030.json", '[{"名称": "道路", "电话": "13812345678"}]'.encode("gb18030"))
put("json_reader", "numbers.json", '[{"big": 12345678901234567890, "neg": -0.0, "exp": 1e308}]')


# --- XLSX (the layout of crates/ingest/tests/common/mod.rs `xlsx`) -------------------------
def xlsx(sheets, shared, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    z = zipfile.ZipFile(buf, "w", method)
    plain_writestr = z.writestr

    def writestr(name, text):
        # A fixed date, so that the seeds come out byte for byte the same on every run.
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = method
        plain_writestr(info, text)

    z.writestr = writestr
    types = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    book = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    rels = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    for i, (name, _) in enumerate(sheets):
        n = i + 1
        types += f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        book += f'<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>'
        rels += f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>'
    ss = len(sheets) + 1
    rels += f'<Relationship Id="rId{ss}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    types += '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    book += "</sheets></workbook>"
    z.writestr("[Content_Types].xml", types)
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    z.writestr("xl/workbook.xml", book)
    z.writestr("xl/_rels/workbook.xml.rels", rels)
    strings = "".join(f"<si><t>{s}</t></si>" for s in shared)
    z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(shared)}" uniqueCount="{len(shared)}">{strings}</sst>')
    for i, (_, data) in enumerate(sheets):
        z.writestr(f"xl/worksheets/sheet{i + 1}.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{data}</sheetData></worksheet>')
    z.close()
    return buf.getvalue()


def s(pos, text):
    return f'<c r="{pos}" t="inlineStr"><is><t>{text}</t></is></c>'


def n(pos, v):
    return f'<c r="{pos}"><v>{v}</v></c>'


def row(r, cells):
    return f'<row r="{r}">{"".join(cells)}</row>'


sheet = (
    row(1, [s("A1", "code"), s("B1", "name"), s("C1", "amount")])
    + row(2, [n("A2", "110101"), '<c r="B2" t="s"><v>0</v></c>', n("C2", "1.5")])
    + row(3, [n("A3", "5.10104E+11"), '<c r="B3" t="s"><v>1</v></c>', '<c r="C3"><f>C2*2</f><v>3</v></c>'])
    + row(5, [n("A5", "110103"), s("B5", "13812345678"), '<c r="C5" t="e"><v>#DIV/0!</v></c>'])
)
put("xlsx_reader", "stored.xlsx", xlsx([("数据", sheet)], ["东城区", "西城区"], zipfile.ZIP_STORED))
put("xlsx_reader", "deflated.xlsx", xlsx([("Sheet1", sheet), ("说明", row(1, [s("A1", "note")]))], ["a", "b"]))
put("xlsx_reader", "date.xlsx", xlsx([("S", row(1, [s("A1", "d"), s("B1", "b")]) + row(2, [n("A2", "45000"), '<c r="B2" t="b"><v>1</v></c>']))], [], zipfile.ZIP_STORED))

# --- privacy: 3 bytes choose the masking method and its counts, the rest is the value ------
for i, (head, value) in enumerate([
    (b"\x01\x03\x04", "13812345678"),
    (b"\x00\x00\x00", "身份证11010519491231002X。"),
    (b"\x02\x00\x00", "4111 1111 1111 1111"),
    (b"\x03\x00\x00", "2023年5月17日"),
    (b"\x04\x00\x00", "2023-05-17 10:00"),
    (b"\x01\x01\x00", "写信给 zhang.san@example.com.cn。"),
    (b"\x01\x05\x05", "办公室 010-62345678"),
    (b"\x06\x02\x02", "02887654321"),
    (b"\x01\xf0\xf1", "138-1234-5678"),
]):
    put("privacy", f"seed{i}", head + value.encode("utf-8"))

# --- watermark: even first byte = a leaked file; odd = grant, then alterations ---------------
put("watermark_read", "leak.csv", b"\x00code,name,amount\n110000,\xe6\x9d\x910,0.0\n110007,\xe6\x9d\x911,1.5\n")
put("watermark_read", "leak_cols.csv", b"\x00Name , CODE\n\xe6\x9d\x912,110014\n")
put("watermark_read", "download_g1", b"\x01\x01")
put("watermark_read", "sample_g2", b"\x01\x02\x06\x01\x00\x00\x10\x08")
put("watermark_read", "edited_g3", b"\x01\x03\x03\x05\x01\x05\x00\x00\x04\x00\x00\x01\x09\x02")

# --- CKAN parameters: first byte 0 query, 1 form, 2 JSON ------------------------------------
for i, seed in enumerate([
    b"\x00q=%E9%81%93%E8%B7%AF&rows=10&start=0&sort=metadata_modified+desc&facet.field=%5B%22tags%22%5D",
    b'\x00fq=organization:(abc OR "d e") +res_format:CSV&facet.limit=-1&include_total=yes',
    b'\x01resource_id=12&limit=5&offset=10&filters=%7B%22code%22%3A%5B1%2C%222%22%5D%7D&sort=code+desc',
    b'\x01%7B%22rows%22%3A+3%7D=1',
    b'\x02{"resource_id": "7", "q": "\xe8\xa1\x97\xe9\x81\x93", "fields": "code,name", "records_format": "objects", "filters": {"name": ["a", "b"]}}',
    b'\x02{"q": "title:\\"a b\\" groups:(x OR y) *:*", "fq_list": ["tags:\\\\(x\\\\)"], "rows": "7"}',
]):
    put("ckan_params", f"seed{i}", seed)

# --- data API query strings -----------------------------------------------------------------
for i, seed in enumerate([
    "q=%E9%81%93%E8%B7%AF&sort=-amount&fields=code,name&limit=20&offset=40",
    "code.prefix=1101&amount.gte=3.5&name.in=a,b&format=csv&app_key=k",
    "after=120&limit=10000&updated.lt=2023-05-17",
    "name.prefix=%F4%8F%BF%BF&x.eq=",
]):
    put("data_api_params", f"seed{i}", seed)
