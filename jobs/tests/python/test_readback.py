"""The published datasets as an analyst opens them: pandas, polars, DuckDB and
pyarrow read the Hive-partitioned Parquet of a sample run and agree with each
other, with the manifest and with the declared units."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest

ROOT = Path(__file__).resolve().parents[3]
CARBONSTAT = os.environ.get("CARBONSTAT") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/carbonstat-target")) / "debug/carbonstat"
)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """Run the sample pipeline into a temporary output directory."""
    tmp = tmp_path_factory.mktemp("sample")
    shutil.copytree(ROOT / "data-samples" / "data", tmp / "data")
    config = (ROOT / "data-samples" / "pipeline.yaml").read_text(encoding="utf-8")
    config = config.replace("../factors/cn-2026-12", str(ROOT / "factors" / "cn-2026-12")).replace(
        "output: ../out", "output: out"
    )
    (tmp / "pipeline.yaml").write_text(config, encoding="utf-8")
    run = subprocess.run(
        [CARBONSTAT, "--quiet", "run", "--config", str(tmp / "pipeline.yaml")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "准格尔旗" in run.stdout
    return tmp / "out"


def test_pandas_polars_duckdb_agree(out):
    ri = out / "reports" / "region_indicators"
    pdf = pd.read_parquet(ri)
    pdf["year"] = pdf["year"].astype(int)
    plf = pl.read_parquet(ri / "**" / "*.parquet", hive_partitioning=True)
    ddf = duckdb.sql(
        f"SELECT * FROM read_parquet('{ri}/*/*.parquet', hive_partitioning = true)"
    ).df()
    assert sorted(pdf["year"].unique()) == list(range(2020, 2026))
    assert len(pdf) == len(plf) == len(ddf) == 7 * 6  # 7 regions × 6 years

    def county_2025(df):
        row = df[(df["region_code"] == "150622") & (df["year"].astype(int) == 2025)]
        assert len(row) == 1
        return row.iloc[0]

    a = county_2025(pdf)
    b = county_2025(plf.to_pandas())
    c = county_2025(ddf)
    for col in ["energy_tce", "co2_t", "energy_intensity_controlled", "co2_intensity", "coal_share"]:
        assert a[col] == b[col] == c[col], col
    # the province has the county's energy but no GDP: no intensity, no made-up number
    prov = pdf[(pdf["region_code"] == "150000") & (pdf["year"] == 2025)].iloc[0]
    assert prov["energy_tce"] == a["energy_tce"]
    assert pd.isna(prov["energy_intensity"])


def test_types_and_units_are_in_the_files(out):
    dataset = ds.dataset(out / "reports" / "region_indicators", format="parquet", partitioning="hive")
    schema = dataset.schema
    assert str(schema.field("region_code").type) == "string"  # codes keep leading zeros
    assert str(schema.field("energy_tce").type) == "double"
    md = schema.field("energy_intensity").metadata
    assert md[b"unit"] == b"tce per 10^4 yuan"
    assert b"gdp_const" in md[b"description"]
    md = schema.field("co2_t").metadata
    assert md[b"unit"] == b"t CO2"


def test_rejects_and_manifest_account_for_every_row(out):
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rejects = pd.read_parquet(out / "reports" / "rejects")
    assert len(rejects) == 8
    assert set(rejects["rule_id"]) == {
        "uscc_invalid",
        "energy_unknown",
        "quantity_negative",
        "unit_invalid",
        "period_invalid",
        "duplicate_key",
        "region_unknown",
        "quantity_invalid",
    }
    for total in manifest["input_totals"]:
        assert total["rows_read"] == total["rows_accepted"] + total["rows_rejected"]
    energy = next(t for t in manifest["input_totals"] if t["input"] == "energy")
    assert energy["rows_rejected"] == 8
    # every output file listed with its rows, and the rows are there
    for f in manifest["outputs"]:
        path = out / f["path"]
        assert path.exists(), f["path"]
        if f["dataset"] == "bulletin":
            continue  # HTML, CSS and SQL of the bulletin: no rows
        assert pd.read_parquet(path).shape[0] == f["rows"]


def test_warning_levels_of_the_sample(out):
    tp = duckdb.sql(
        f"SELECT * FROM read_parquet('{out}/reports/target_progress/*/*.parquet', hive_partitioning = true)"
    ).df()
    county = tp[(tp["region_code"] == "150622") & (tp["year"] == 2025) & (tp["plan"] == "14th-FYP")]
    county = county.set_index("indicator")
    # 2025 is the 14th plan's target year: the verdict on the five years.
    # The county's controlled energy intensity fell 16.45 % since 2020
    # against 10 %: met; 薛家湾镇's fell 8.02 % against 12 %: not met, level 2
    # (it fell 7.35 % in 2025, more than the even annual 2.52 %, which made
    # the year green before: 1 − 0.88^(1/5) = 0.0252)
    assert county.loc["energy_intensity_reduction", "status"] == "met"
    assert county.loc["co2_intensity_reduction", "status"] == "met"
    town = tp[(tp["region_code"] == "150622100") & (tp["year"] == 2025)].iloc[0]
    assert town["status"] == "not_met" and town["warning_level"] == 2
    assert abs(town["achieved"] - 0.0802) < 5e-5, town["achieved"]
    # base-year rows of a plan just begun (the 15th, from 2025) carry no warning level
    assert set(tp["warning_level"].dropna()) <= {1, 2, 3}
    base = tp[tp["status"] == "base_year"]
    assert set(base["plan"]) == {"15th-FYP"} and base["warning_level"].isna().all()
    # the county's CO2 peaked in 2022: 2023-2025 all below it
    peak = tp[(tp["indicator"] == "co2_peak_by") & (tp["year"] == 2025)]
    assert list(peak["status"]) == ["peaked"] and list(peak["achieved"]) == [2022.0]
    # the chemical town's intensity rose in 2022: red
    town = tp[(tp["region_code"] == "150622103") & (tp["year"] == 2022)]
    assert list(town["status"]) == ["red"]


def test_manifest_follows_its_json_schema(out):
    import jsonschema

    schema = json.loads((ROOT / "lib" / "schema" / "manifest-v1.schema.json").read_text(encoding="utf-8"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(manifest)
    # and the schema is strict: an unknown field is refused
    manifest["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, schema)
