"""One rank of a tiny torch.distributed job: gloo all_reduce of (rank + 1); writes OUT_DIR/rank<R>.json.

Run by the launcher tests under torchrun or srun, which set RANK, WORLD_SIZE, MASTER_ADDR/PORT.
"""
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist


def main(out_dir: Path) -> None:
    dist.init_process_group("gloo", init_method="env://")
    total = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(total)
    record = {"rank": dist.get_rank(), "world_size": dist.get_world_size(), "sum": total.item(),
              "local_rank": int(os.environ["LOCAL_RANK"])}
    dist.destroy_process_group()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".rank{record['rank']}.json.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, out_dir / f"rank{record['rank']}.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
