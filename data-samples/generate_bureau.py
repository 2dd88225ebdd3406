#!/usr/bin/env python3
"""Writes data-samples/bureau/: the sample county's records as a county bureau
exports them — a GB18030 CSV (the default of Chinese Excel and many government
systems) and an XLSX workbook with a title block above the header — with
Chinese headers, Chinese energy names and units, and a reporting period column
(报告期: 2025年3月) instead of year and month. The records are those of
data/energy/*.csv (rejected rows included), so `pipeline-bureau.yaml` gives
the same indicators as `pipeline.yaml`.

Needs openpyxl (`make test` installs it in .venv):
  .venv/bin/python data-samples/generate_bureau.py
"""
import csv
import os

import openpyxl
from openpyxl.styles import Alignment, Font

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bureau")

ENERGY_ZH = {
    "raw_coal": "原煤", "washed_coal": "洗精煤", "coke": "焦炭", "natural_gas": "天然气", "diesel": "柴油",
    "gasoline": "汽油", "lpg": "液化石油气", "electricity": "电力", "heat": "热力", "wind_power": "风电",
    "solar_power": "太阳能发电", "coke_oven_gas": "焦炉煤气",
}
UNIT_ZH = {"t": "吨", "10^4 t": "万吨", "m3": "立方米", "10^4 m3": "万立方米", "kWh": "千瓦时",
           "10^4 kWh": "万千瓦时", "MWh": "兆瓦时", "GJ": "吉焦"}
USE_ZH = {"fuel": "燃料", "feedstock": "原料", "": "燃料"}
FLOW_ZH = {"consumption": "消费", "output": "输出", "": "消费"}
# 实物消费量 is not a standard header: pipeline-bureau.yaml maps it to quantity
HEADER = ["统一社会信用代码", "单位名称", "行政区划代码", "行业代码", "报告期", "能源名称", "用途", "流向", "计量单位", "实物消费量"]
SECTOR_HEADER = ["行政区划代码", "行业代码", "年份", "能源名称", "用途", "计量单位", "消费量"]


def bureau_row(r):
    period = f"{r['year']}年{r['month']}月" if r["month"] else f"{r['year']}年"
    return [
        r["enterprise_id"], r["enterprise_name"], r["region_code"], r["sector_code"], period,
        ENERGY_ZH.get(r["energy_code"], r["energy_code"]), USE_ZH.get(r["use"], r["use"]),
        FLOW_ZH.get(r["flow"], r["flow"]), UNIT_ZH.get(r["unit"], r["unit"]), r["quantity"],
    ]


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def number_or_text(q: str):
    """Quantities as numbers, but some as text with thousands separators, as people type them."""
    try:
        v = float(q)
    except ValueError:
        return q  # a bad value stays as typed
    if v >= 1000 and int(v * 1000) % 7 == 0:
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    return int(v) if v == int(v) else v


def main():
    os.makedirs(OUT, exist_ok=True)
    data = os.path.join(HERE, "data")
    first = read(os.path.join(data, "energy", "energy_2020-2022.csv"))
    second = read(os.path.join(data, "energy", "energy_2023-2025.csv"))

    with open(os.path.join(OUT, "能源消费_2020-2022.csv"), "w", encoding="gb18030", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        for r in first:
            w.writerow(bureau_row(r))

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "能源消费"
    ws.append(["准格尔旗重点用能单位能源消费统计表（2023—2025年）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(["填报单位：准格尔旗统计局", None, None, None, None, None, None, None, "单位：见计量单位列"])
    ws.append([])
    ws.append(HEADER)
    for r in second:
        row = bureau_row(r)
        row[-1] = number_or_text(row[-1])
        ws.append(row)
    ws.append([])
    ws.append([])
    notes = wb.create_sheet("说明")
    notes.append(["本表为示例数据，企业名称均为虚构。"])
    wb.save(os.path.join(OUT, "能源消费_2023-2025.xlsx"))

    with open(os.path.join(OUT, "分行业能源消费.csv"), "w", encoding="gb18030", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(SECTOR_HEADER)
        for r in read(os.path.join(data, "sector_energy.csv")):
            w.writerow([r["region_code"], r["sector_code"], r["year"], ENERGY_ZH.get(r["energy_code"], r["energy_code"]),
                        USE_ZH[r["use"]], UNIT_ZH.get(r["unit"], r["unit"]), r["quantity"]])


if __name__ == "__main__":
    main()
