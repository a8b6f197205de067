"""Checks the EU VAT rates RetailCoder computes with (shared/tax/data/eu-vat-standard-rates.json)
against the eu-vat-rates-data package (the European Commission's TEDB, republished daily), which
./infra/test installs into its virtual environment: each EU member's latest standard rate in the
file must be the package's. Exit 1 with a line per difference, so drift is caught.
"""

import json
import sys
from importlib import resources


def main(path):
    ours = json.load(open(path))["standard"]
    data = json.loads(
        resources.files("eu_vat_rates_data").joinpath("eu_vat_rates_data.json").read_text()
    )
    failures = []
    members = {code: row for code, row in data["rates"].items() if row.get("eu_member")}
    for code, row in sorted(members.items()):
        mine = ours.get(code) or ours.get({"EL": "GR", "GR": "EL"}.get(code, ""))
        if not mine:
            failures.append(f"{code}: missing from {path}")
            continue
        latest = max(mine, key=lambda r: r["from"])["bp"]
        expected = round(row["standard"] * 100)
        if latest != expected:
            failures.append(f"{code}: {latest} bp here, {expected} bp in eu-vat-rates-data {data['version']}")
    for code in sorted(set(ours) - set(members) - {"EL", "GR"}):
        failures.append(f"{code}: not an EU member in eu-vat-rates-data")
    for failure in failures:
        print(f"tax data check: {failure}")
    if not failures:
        print(f"tax data check: {len(members)} EU standard rates match eu-vat-rates-data {data['version']}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "shared/tax/data/eu-vat-standard-rates.json"))
