"""Real bureau inputs: the sample county as GB18030 CSV + XLSX (with a title
block, Chinese headers, numbers stored as text, a 报告期 column) and as .xls
gives exactly the indicators of the UTF-8 sample; workbook problems are file
errors that say what to do; rejects name the workbook, sheet and row."""
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlwt
from conftest import CARBONSTAT, ROOT

SAMPLES = ROOT / "data-samples"


def run_config(tmp: Path, name: str, text: str):
    cfg = tmp / name
    cfg.write_text(text, encoding="utf-8")
    r = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(cfg), "--no-summary"],
                       capture_output=True, text=True)
    return r


def project(tmp_path, config_name):
    """Copy the samples next to a config, output inside tmp."""
    shutil.copytree(SAMPLES / "data", tmp_path / "data")
    shutil.copytree(SAMPLES / "bureau", tmp_path / "bureau")
    text = (SAMPLES / config_name).read_text(encoding="utf-8")
    text = text.replace("../factors/cn-2026-12", str(ROOT / "factors" / "cn-2026-12"))
    return text.replace("output: ../out-bureau", "output: out").replace("output: ../out", "output: out")


def indicators(out: Path) -> pd.DataFrame:
    df = pd.read_parquet(out / "reports" / "region_indicators")
    df["year"] = df["year"].astype(int)
    return df.sort_values(["region_code", "year"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def utf8_indicators(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("utf8")
    r = run_config(tmp, "pipeline.yaml", project(tmp, "pipeline.yaml"))
    assert r.returncode == 0, r.stderr
    return indicators(tmp / "out")


def test_gb18030_and_xlsx_give_the_same_indicators(tmp_path, utf8_indicators):
    r = run_config(tmp_path, "pipeline-bureau.yaml", project(tmp_path, "pipeline-bureau.yaml"))
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(indicators(tmp_path / "out"), utf8_indicators, check_exact=True)
    import json
    m = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    files = {i["path"]: i for i in m["inputs"]}
    assert files["bureau/能源消费_2020-2022.csv"]["encoding"] == "gb18030"
    xlsx = files["bureau/能源消费_2023-2025.xlsx"]
    assert xlsx["format"] == "xlsx" and xlsx["sheet"] == "能源消费" and xlsx["header_row"] == 4
    # every row of the workbook is accounted for: 1 084 records + 8 bad rows of the sample
    assert xlsx["rows_read"] == xlsx["rows_accepted"] + xlsx["rows_rejected"]
    assert xlsx["rows_rejected"] == 8
    rejects = pd.read_parquet(tmp_path / "out" / "reports" / "rejects")
    from_xlsx = rejects[rejects["source_file"] == "bureau/能源消费_2023-2025.xlsx [能源消费]"]
    assert len(from_xlsx) == 8
    # the header is row 4, the data start at row 5: the first bad row of the sample is row 1 085
    # (1 081 good records of 2023-2025 come before it)
    assert from_xlsx["source_line"].min() == 4 + 1081


def test_xls_gives_the_same_indicators(tmp_path, utf8_indicators):
    text = project(tmp_path, "pipeline-bureau.yaml")
    # the XLSX rows written again as an old .xls workbook (no title block this time)
    wb = openpyxl.load_workbook(tmp_path / "bureau" / "能源消费_2023-2025.xlsx", read_only=True)
    rows = list(wb["能源消费"].iter_rows(values_only=True))[3:]
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("能源消费")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is not None:
                sheet.write(i, j, v)
    book.save(str(tmp_path / "bureau" / "energy_2023-2025.xls"))
    (tmp_path / "bureau" / "能源消费_2023-2025.xlsx").unlink()
    r = run_config(tmp_path, "p.yaml", text.replace("能源消费_2023-2025.xlsx", "energy_2023-2025.xls"))
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(indicators(tmp_path / "out"), utf8_indicators, check_exact=True)


def write_xlsx(path: Path, header, rows, title=True):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "表1"
    if title:
        ws.append(["某县能源消费表"])
        ws.append([])
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)


def base_config(tmp_path, energy_yaml):
    """A config with the given energy input over the sample's gdp and regions."""
    if not (tmp_path / "data").exists():
        shutil.copytree(SAMPLES / "data", tmp_path / "data")
    return f"""inputs:
{energy_yaml}
  gdp: data/gdp.csv
  regions: data/regions.csv
factors: {ROOT / 'factors' / 'cn-2026-12'}
output: out
base_year: 2020
"""


def test_an_unmapped_column_names_what_was_found_and_suggests_a_mapping(tmp_path):
    header = ["统一社会信用代码", "行政区划代码", "行业代码", "报告期", "能源名称", "计量单位", "本月实耗"]
    write_xlsx(tmp_path / "e.xlsx", header, [["91350100M000100Y43", "150622", "C3011", "2025-03", "原煤", "吨", 10]])
    r = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy: e.xlsx"))
    assert r.returncode == 2
    assert "input energy (e.xlsx [表1])" in r.stderr
    assert "required column(s) quantity missing" in r.stderr
    assert "the header has: 统一社会信用代码, 行政区划代码, 行业代码, 报告期, 能源名称, 计量单位, 本月实耗" in r.stderr
    assert "inputs.energy.columns: {本月实耗: quantity}" in r.stderr
    # with the mapping it runs: 10 t raw coal × 0.7143 = 7.143 tce in March 2025
    ok = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy:\n    path: e.xlsx\n    columns: {本月实耗: quantity}"))
    assert ok.returncode == 0, ok.stderr
    ea = pd.read_parquet(tmp_path / "out" / "reports" / "enterprise_annual")
    assert ea["tce"].sum() == pytest.approx(7.143)


def test_sheet_and_header_problems_are_file_errors(tmp_path):
    header = ["统一社会信用代码", "行政区划代码", "行业代码", "年份", "能源名称", "计量单位", "消费量"]
    write_xlsx(tmp_path / "e.xlsx", header, [["91350100M000100Y43", "150622", "C3011", 2025, "原煤", "吨", "1,000"]])
    r = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy:\n    path: e.xlsx\n    sheet: 能源"))
    assert r.returncode == 2
    assert "no sheet '能源'; the workbook has: 表1" in r.stderr
    r = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy:\n    path: e.xlsx\n    sheet: 3"))
    assert r.returncode == 2 and "no sheet number 3" in r.stderr
    # a sheet with no recognisable header
    write_xlsx(tmp_path / "f.xlsx", ["甲", "乙", "丙"], [[1, 2, 3]], title=False)
    r = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy: f.xlsx"))
    assert r.returncode == 2 and "no header row found in the first 30 rows" in r.stderr
    # a file that is not a workbook at all
    (tmp_path / "g.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    r = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy: g.xlsx"))
    assert r.returncode == 2 and "not a readable Excel workbook" in r.stderr
    # the good workbook, sheet by index: numbers stored as text with separators
    r = run_config(tmp_path, "p.yaml", base_config(tmp_path, "  energy:\n    path: e.xlsx\n    sheet: 0"))
    assert r.returncode == 0, r.stderr
    ea = pd.read_parquet(tmp_path / "out" / "reports" / "enterprise_annual")
    assert ea["quantity_base"].sum() == 1000.0
