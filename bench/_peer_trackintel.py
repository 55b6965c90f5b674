"""trackintel 1.4 on the points of bench/pipeline.py: run by bench/pipeline.py inside bench/.venv-peers.

    bench/.venv-peers/bin/python bench/_peer_trackintel.py POINTS.npz

Reads the points (user, ts_s, lat, lon, accuracy), then times, on one core, the equivalent of our pipeline:
dropping fixes of 200 m accuracy or worse, `generate_staypoints` (sliding, 100 m / 5 min as e-mission and
our stays, gap threshold 24 h since the phone sleeps during stays), `generate_triplegs` (between
staypoints) and `predict_transport_mode` (simple-coarse). Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import numpy as np


def main() -> None:
    warnings.filterwarnings("ignore")
    t_import = time.perf_counter()
    import geopandas as gpd
    import pandas as pd
    import trackintel as ti

    import_s = time.perf_counter() - t_import
    data = np.load(sys.argv[1])
    n = int(data["ts_s"].size)
    t0 = time.perf_counter()
    df = pd.DataFrame(
        {
            "user_id": data["user"],
            "tracked_at": pd.to_datetime(data["ts_s"], unit="s", utc=True),
            "accuracy": data["accuracy_m"],
        }
    )
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(data["lon"], data["lat"]), crs="EPSG:4326")
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    cpu1 = time.process_time()
    # Like our cleaning's first rule, fixes of 200 m accuracy or worse go first: trackintel has no such step,
    # and one far-off fix breaks its sliding window. The phone sleeps a few minutes into each stay, so the
    # gap threshold is a day rather than 15 minutes (otherwise no staypoint is ever found).
    pfs = ti.Positionfixes(gdf[~(gdf["accuracy"] >= 200)])
    pfs, sp = pfs.generate_staypoints(
        method="sliding", dist_threshold=100, time_threshold=5.0, gap_threshold=24 * 60.0
    )
    t2 = time.perf_counter()
    pfs, tpls = pfs.generate_triplegs(sp, method="between_staypoints")
    t3 = time.perf_counter()
    tpls = tpls.predict_transport_mode(method="simple-coarse")
    t4 = time.perf_counter()
    cpu_seconds = time.process_time() - cpu1
    seconds = t4 - t1
    print(
        json.dumps(
            {
                "peer": "trackintel",
                "version": ti.__version__,
                "pandas": pd.__version__,
                "geopandas": gpd.__version__,
                "points": n,
                "staypoints": len(sp),
                "triplegs": len(tpls),
                "modes": {str(k): int(v) for k, v in tpls["mode"].value_counts().items()},
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "seconds_staypoints": round(t2 - t1, 3),
                "seconds_triplegs": round(t3 - t2, 3),
                "seconds_modes": round(t4 - t3, 3),
                "seconds_build_dataframe": round(build_s, 3),
                "seconds_import": round(import_s, 3),
                "pps": round(n / seconds, 1),
                "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
