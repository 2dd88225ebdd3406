#!/usr/bin/env python3
"""Writes the sample region under data-samples/data/ (deterministic, seeded).

A fictional county modelled on the seed plan of 准格尔旗 (region code 150622):
four towns below it, city 150600 and province 150000 above; 2020-2025; a coal
power plant that sells electricity and heat (flow = output), a coal-chemical
plant with feedstock use, a coking plant (energy transformation), a cement plant, wind and solar farms,
two mines, a hotel and a hospital; households, transport and agriculture as
sector statistics; GDP with real indices; the plan's targets. Enterprise names
are invented; their credit codes have valid check characters. A handful of
deliberately bad rows (marked below) make the rejects dataset non-empty.

Run `python3 data-samples/generate.py` to rewrite the files; the committed
files are its output.
"""
import csv
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
YEARS = list(range(2020, 2026))
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def uscc(area: str, serial: int) -> str:
    """A Unified Social Credit Code: 9 (enterprise) 1 (company), area, org code, check."""
    body = "91" + area + "MA0" + "".join(CHARSET[(serial * 7 + k * 3) % 31] for k in range(6))
    total = sum(CHARSET.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + CHARSET[(31 - total % 31) % 31]


# month weights: heating season heavier (sum 12)
SEASON = [1.18, 1.10, 1.02, 0.95, 0.90, 0.88, 0.92, 0.93, 0.90, 0.98, 1.08, 1.16]
SEASON = [w * 12 / sum(SEASON) for w in SEASON]

REGIONS = [
    ("150000", "内蒙古自治区", "", "province"),
    ("150600", "鄂尔多斯市", "150000", "city"),
    ("150622", "准格尔旗", "150600", "county"),
    ("150622100", "薛家湾镇", "150622", "town"),
    ("150622101", "沙圪堵镇", "150622", "town"),
    ("150622102", "龙口镇", "150622", "town"),
    ("150622103", "大路镇", "150622", "town"),
]

# (name, town, sector, [(energy, use, flow, unit, annual quantity 2020, trend key)])
ENTERPRISES = [
    ("北辰热电有限公司", "150622100", "D4411", [
        ("原煤", "燃料", "消费", "万吨", 280.0, "power"),
        ("电力", "燃料", "输出", "万千瓦时", 520000.0, "power"),
        ("热力", "燃料", "输出", "GJ", 1500000.0, "power"),
    ]),
    ("星河煤化工有限公司", "150622103", "C2614", [
        ("raw_coal", "fuel", "consumption", "10^4 t", 90.0, "chem"),
        ("raw_coal", "feedstock", "consumption", "10^4 t", 150.0, "chem"),
        ("natural_gas", "fuel", "consumption", "10^4 m3", 5000.0, "chem"),
        ("electricity", "fuel", "consumption", "10^4 kWh", 120000.0, "chem"),
    ]),
    ("黄河焦化有限公司", "150622102", "C2521", [
        # energy transformation (加工转换): the coal in and the coke and gas out
        # carry no combustion CO2; the gas the ovens burn is fuel
        ("洗精煤", "加工转换", "消费", "吨", 1300000.0, "coke"),
        ("焦炭", "加工转换", "输出", "吨", 1000000.0, "coke"),
        ("焦炉煤气", "加工转换", "输出", "万立方米", 20000.0, "coke"),
        ("焦炉煤气", "燃料", "消费", "万立方米", 12000.0, "coke"),
        ("电力", "燃料", "消费", "万千瓦时", 5000.0, "coke"),
    ]),
    ("青山建材水泥有限公司", "150622101", "C3011", [
        ("raw_coal", "fuel", "consumption", "t", 250000.0, "cement"),
        ("electricity", "fuel", "consumption", "MWh", 180000.0, "cement"),
        ("diesel", "fuel", "consumption", "t", 2000.0, "cement"),
    ]),
    ("朔风新能源风电场", "150622103", "D4415", [
        ("风电", "燃料", "消费", "万千瓦时", 80000.0, "wind"),
        ("电力", "燃料", "输出", "万千瓦时", 80000.0, "wind"),
    ]),
    ("日昇光伏电站", "150622103", "D4416", [
        ("solar_power", "fuel", "consumption", "MWh", 350000.0, "solar"),
        ("electricity", "fuel", "output", "MWh", 350000.0, "solar"),
    ]),
    ("黑岱沟示范煤矿有限公司", "150622100", "B0610", [
        ("electricity", "fuel", "consumption", "10^4 kWh", 15000.0, "mine"),
        ("diesel", "fuel", "consumption", "t", 30000.0, "mine"),
        ("raw_coal", "fuel", "consumption", "t", 10000.0, "mine"),
    ]),
    ("哈尔乌素示范煤矿有限公司", "150622102", "B0610", [
        ("electricity", "fuel", "consumption", "10^4 kWh", 12000.0, "mine"),
        ("diesel", "fuel", "consumption", "t", 26000.0, "mine"),
        ("raw_coal", "fuel", "consumption", "t", 8000.0, "mine"),
    ]),
    ("准格尔示范酒店有限公司", "150622100", "H6110", [
        ("natural_gas", "fuel", "consumption", "m3", 1000000.0, "services"),
        ("electricity", "fuel", "consumption", "kWh", 8000000.0, "services"),
        ("heat", "fuel", "consumption", "GJ", 50000.0, "services"),
    ]),
    ("示范中心医院有限公司", "150622100", "Q8411", [
        ("electricity", "fuel", "consumption", "kWh", 10000000.0, "services"),
        ("heat", "fuel", "consumption", "GJ", 100000.0, "services"),
    ]),
]

TREND = {  # activity relative to 2020
    "power": [1.00, 1.04, 1.08, 1.11, 1.14, 1.16],
    "chem": [1.00, 1.06, 1.20, 1.22, 1.26, 1.28],
    "coke": [1.00, 1.00, 0.98, 0.97, 0.95, 0.93],
    "cement": [1.00, 0.98, 0.95, 0.93, 0.90, 0.88],
    "wind": [1.00, 1.15, 1.40, 1.75, 2.20, 2.75],
    "solar": [1.00, 1.30, 1.70, 2.20, 2.80, 3.40],
    "mine": [1.00, 1.03, 1.05, 1.06, 1.07, 1.07],
    "services": [1.00, 1.04, 1.05, 1.09, 1.12, 1.15],
    "households_coal": [1.00, 0.95, 0.90, 0.85, 0.80, 0.75],
    "households": [1.00, 1.01, 1.02, 1.03, 1.04, 1.05],
    "transport": [1.00, 1.04, 1.02, 1.07, 1.09, 1.10],
}

# (sector, energy, unit, quantity 2020, trend key)
SECTOR_ENERGY = [
    ("HH", "raw_coal", "t", 60000.0, "households_coal"),
    ("HH", "electricity", "10^4 kWh", 15000.0, "households"),
    ("HH", "lpg", "t", 3000.0, "households"),
    ("HH", "heat", "GJ", 1200000.0, "households"),
    ("G5430", "diesel", "t", 120000.0, "transport"),
    ("G5430", "gasoline", "t", 60000.0, "transport"),
    ("A0111", "diesel", "t", 8000.0, "households"),
    ("A0111", "electricity", "10^4 kWh", 3000.0, "households"),
]

GDP_2020 = {"150622": 850.0, "150622100": 300.0, "150622101": 200.0, "150622102": 150.0, "150622103": 150.0}
GDP_INDEX = {2021: 106.5, 2022: 104.0, 2023: 106.8, 2024: 105.5, 2025: 105.2}
DEFLATOR = {2020: 1.0, 2021: 1.045, 2022: 1.09, 2023: 1.11, 2024: 1.125, 2025: 1.14}

TARGETS = [
    ("150622", "14th-FYP", 2020, 2025, "energy_intensity_reduction", "0.10"),
    ("150622", "14th-FYP", 2020, 2025, "co2_intensity_reduction", "0.175"),
    ("150622", "14th-FYP", 2020, 2025, "non_fossil_share_min", "0.07"),
    ("150622", "14th-FYP", 2020, 2025, "coal_share_max", "0.85"),
    ("150622103", "14th-FYP", 2020, 2025, "energy_intensity_reduction", "0.08"),
    # the county's target split to its towns (分解到乡镇)
    ("150622100", "14th-FYP", 2020, 2025, "energy_intensity_reduction", "0.12"),
    ("150622101", "14th-FYP", 2020, 2025, "energy_intensity_reduction", "0.14"),
    ("150622102", "14th-FYP", 2020, 2025, "energy_intensity_reduction", "0.10"),
    # the carbon-peaking plan: CO2 peaks by 2030 (碳达峰实施方案)
    ("150622", "carbon-peak", 2020, 2030, "co2_peak_by", "2030"),
    # the 15th five-year plan starts from 2025 (fictional values)
    ("150622", "15th-FYP", 2025, 2030, "energy_intensity_reduction", "0.10"),
    ("150622", "15th-FYP", 2025, 2030, "co2_intensity_reduction", "0.17"),
]

# A zero-carbon park in the development zone (大路镇) from 2023: the
# coal-chemical plant with the wind and solar farms; the county's list of key
# energy-using units (the hotel is listed although it uses far less than
# 10 000 tce). Enterprises by their serial in ENTERPRISES.
GROUPS = [
    ("ZCP-01", "准格尔经济技术开发区零碳园区", "zero_carbon_park", 2, 2023, ""),
    ("ZCP-01", "准格尔经济技术开发区零碳园区", "zero_carbon_park", 5, 2023, ""),
    ("ZCP-01", "准格尔经济技术开发区零碳园区", "zero_carbon_park", 6, 2023, ""),
    ("KU-150622", "准格尔旗重点用能单位名单", "key_units", 1, 2020, ""),
    ("KU-150622", "准格尔旗重点用能单位名单", "key_units", 2, 2020, ""),
    ("KU-150622", "准格尔旗重点用能单位名单", "key_units", 3, 2020, ""),
    ("KU-150622", "准格尔旗重点用能单位名单", "key_units", 4, 2020, ""),
    ("KU-150622", "准格尔旗重点用能单位名单", "key_units", 9, 2021, 2024),
]
# Green power the coal-chemical plant bought (10^4 kWh): green-power trades
# from 2023, certificates in 2025.
GREEN_POWER = [
    (2, 2023, 20000, "green_power_trade"),
    (2, 2024, 40000, "green_power_trade"),
    (2, 2025, 60000, "green_power_trade"),
    (2, 2025, 10000, "green_certificate"),
]

# Clinker of the cement plant (enterprise 4) in t, following its coal use;
# from 2023 the plant reports the clinker's CaO and MgO (composition rule).
# Quicklime from small kilns in 龙口镇, reported as the town's total.
CLINKER_2020 = 1_600_000.0
LIME_2020 = 50_000.0
# The county's sinks: forest growing-stock growth in m3 (the plan's
# afforestation, 碳汇能力巩固提升) and grassland removals as the forestry and
# grassland bureau reports them, in t CO2.
FOREST_STOCK_M3 = [240000, 250000, 262000, 275000, 290000, 305000]
GRASSLAND_T = [110000, 112000, 115000, 118000, 120000, 123000]


def fmt(q: float) -> str:
    return f"{q:.3f}".rstrip("0").rstrip(".")


def main() -> None:
    rng = random.Random(150622)
    os.makedirs(os.path.join(OUT, "energy"), exist_ok=True)

    with open(os.path.join(OUT, "regions.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "name", "parent_code", "level"])
        w.writerows(REGIONS)

    with open(os.path.join(OUT, "gdp.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "year", "gdp", "gdp_index"])
        for code, base in GDP_2020.items():
            real = base
            for y in YEARS:
                if y > 2020:
                    # towns grow a little faster or slower than the county
                    idx = GDP_INDEX[y] + (0.0 if code == "150622" else round(rng.uniform(-1.5, 1.5), 1))
                    real *= idx / 100
                    w.writerow([code, y, fmt(round(real * DEFLATOR[y], 2)), fmt(idx)])
                else:
                    w.writerow([code, y, fmt(base), ""])

    with open(os.path.join(OUT, "targets.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "plan", "base_year", "target_year", "indicator", "value"])
        w.writerows(TARGETS)

    with open(os.path.join(OUT, "sector_energy.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "sector_code", "year", "energy_code", "use", "flow", "quantity", "unit"])
        for i, y in enumerate(YEARS):
            for sector, energy, unit, q, trend in SECTOR_ENERGY:
                w.writerow(["150622", sector, y, energy, "fuel", "consumption",
                            fmt(q * TREND[trend][i] * rng.uniform(0.99, 1.01)), unit])

    header = ["enterprise_id", "enterprise_name", "region_code", "sector_code", "year", "month",
              "energy_code", "use", "flow", "quantity", "unit"]
    with open(os.path.join(OUT, "production.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["enterprise_id", "region_code", "year", "product_code", "quantity", "unit", "cao", "mgo"])
        for i, y in enumerate(YEARS):
            clinker = CLINKER_2020 * TREND["cement"][i]
            cao, mgo = ("0.652", "0.021") if y >= 2023 else ("", "")
            w.writerow([uscc("150622", 4), "150622101", y, "水泥熟料", fmt(clinker), "吨", cao, mgo])
            w.writerow(["", "150622102", y, "lime", fmt(LIME_2020 * TREND["households"][i]), "t", "", ""])

    with open(os.path.join(OUT, "sinks.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "year", "ecosystem", "method", "quantity", "unit"])
        for i, y in enumerate(YEARS):
            w.writerow(["150622", y, "forest", "stock_change", FOREST_STOCK_M3[i], "m3"])
            w.writerow(["150622", y, "grassland", "reported", GRASSLAND_T[i], "t"])

    with open(os.path.join(OUT, "groups.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["group_id", "group_name", "kind", "enterprise_id", "from_year", "to_year"])
        for gid, name, kind, serial, start, end in GROUPS:
            w.writerow([gid, name, kind, uscc("150622", serial), start, end])

    with open(os.path.join(OUT, "green_power.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["enterprise_id", "year", "quantity", "unit", "kind"])
        for serial, y, q, kind in GREEN_POWER:
            w.writerow([uscc("150622", serial), y, q, "万千瓦时", kind])

    files = {"energy_2020-2022.csv": YEARS[:3], "energy_2023-2025.csv": YEARS[3:]}
    for name, years in files.items():
        rows = []
        for serial, (ename, town, sector, streams) in enumerate(ENTERPRISES, start=1):
            eid = uscc("150622", serial)
            for y in years:
                i = YEARS.index(y)
                for energy, use, flow, unit, q, trend in streams:
                    annual = q * TREND[trend][i]
                    for m in range(12):
                        qty = annual / 12 * SEASON[m] * rng.uniform(0.97, 1.03)
                        rows.append([eid, ename, town, sector, y, m + 1, energy, use, flow, fmt(qty), unit])
        if name == "energy_2023-2025.csv":
            good = rows[0]
            bad = [
                # wrong check character (valid code ends differently)
                [good[0][:17] + ("0" if good[0][17] != "0" else "1")] + good[1:5] + [1, "电力", "燃料", "消费", "100", "万千瓦时"],
                # energy not in the catalog
                good[:5] + [2, "褐煤块", "燃料", "消费", "500", "吨"],
                # negative quantity: output must be reported as flow = output
                good[:5] + [3, "电力", "燃料", "消费", "-1200", "万千瓦时"],
                # a volume unit for a solid fuel
                good[:5] + [4, "原煤", "燃料", "消费", "3000", "m3"],
                # month 13
                good[:5] + [13, "原煤", "燃料", "消费", "3000", "吨"],
                # exact duplicate of the first record of the file
                list(good),
                # region not in regions.csv
                good[:2] + ["150699"] + good[3:5] + [5, "电力", "燃料", "消费", "100", "万千瓦时"],
                # not a number
                good[:5] + [6, "柴油", "燃料", "消费", "12,5x", "吨"],
            ]
            rows.extend(bad)
        with open(os.path.join(OUT, "energy", name), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)


if __name__ == "__main__":
    main()
