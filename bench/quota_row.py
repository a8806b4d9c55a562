"""One Markdown row of bench/quota.sh from oha's JSON output.

    python3 bench/quota_row.py OHA_JSON OFFERED_RATE VCPU_USED
"""

import json
import sys

data = json.loads(sys.argv[1])
rate, cpu = sys.argv[2], float(sys.argv[3])
lat = data["latencyPercentiles"]
codes = data.get("statusCodeDistribution", {})
ok = codes.get("200", 0)
total = sum(codes.values())
note = "" if ok == total else f" ({total - ok} not 200)"
print(f"| {rate} | {data['summary']['requestsPerSec']:,.0f}{note} | {lat['p50'] * 1000:.2f} | "
      f"{lat['p99'] * 1000:.2f} | {cpu:.2f} |")
