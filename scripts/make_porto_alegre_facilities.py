"""Derive data/facilities/porto_alegre_facilities.csv from the real r5r/IPEA population file.

The source counts healthcare facilities and schools per H3 resolution-9 hexagon (located at the hexagon
centre). Each hexagon with at least one becomes one facility row, with the count kept in `count`.
Run from the repository root: python scripts/make_porto_alegre_facilities.py
"""

import pandas as pd

src = pd.read_csv("data/population/porto_alegre_h3r9_population.csv")
rows = []
for col, cat in (("healthcare", "clinic"), ("schools", "school")):
    sub = src[src[col] > 0]
    rows.append(pd.DataFrame({
        "facility_id": cat + ":" + sub["id"],
        "category": cat,
        "name": sub[col].astype(int).astype(str) + f" {col} in hexagon " + sub["id"],
        "count": sub[col].astype(int),
        "lon": sub["lon"].round(6),
        "lat": sub["lat"].round(6),
    }))
pd.concat(rows).to_csv("data/facilities/porto_alegre_facilities.csv", index=False)
