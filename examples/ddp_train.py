"""Multi-process training with DistributedDataParallel: eqcnn models are ordinary ``nn.Module``s.

Launch two processes on the CPU (gloo backend) with torchrun::

    torchrun --nproc_per_node=2 examples/ddp_train.py [--quick]

Each process trains a Cyclic(8) SFCNN on its half of the bundled digits;
DDP averages the gradients, so the replicas stay identical (checked at the
end). Run without torchrun it starts as a single process (world size 1).
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import eqcnn
from eqcnn.datasets import load_digits
from eqcnn.models import SFCNN


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer digits and steps (for CI)")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)

    if "RANK" not in os.environ:  # plain `python ddp_train.py`: a world of one process
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29511", LOCAL_RANK="0")
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)

    limit = 512 if args.quick else None
    epochs = 1 if args.quick else args.epochs
    x, y = load_digits("train", rotation="random", seed=1, limit=limit)
    x, y = x[rank::world], y[rank::world]  # each rank its own shard
    model = DDP(SFCNN(eqcnn.Cyclic(8), width=0.25))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    gen = torch.Generator().manual_seed(rank)
    batch = 32
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0] - batch + 1, batch):  # equal step counts on every rank
            idx = order[i : i + batch]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # gradients are averaged across the ranks here
            opt.step()
        if rank == 0:
            print(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f} ({time.perf_counter() - start:.1f} s)")

    # the replicas must hold the same weights: compare every rank's checksum with rank 0's
    flat = torch.cat([p.detach().flatten() for p in model.module.parameters()])
    checksums = [torch.zeros(2, dtype=torch.float64) for _ in range(world)]
    dist.all_gather(checksums, torch.stack([flat.double().sum(), flat.double().norm()]))
    same = all(torch.allclose(c, checksums[0], rtol=1e-6, atol=0) for c in checksums)
    if rank == 0:
        x_test, y_test = load_digits("test", rotation="random", seed=2, limit=200 if args.quick else None)
        net = model.module.eval()  # the wrapped model: DDP's forward would wait for the other ranks
        with torch.no_grad():
            acc = (net(x_test).argmax(1) == y_test).float().mean().item()
        print(f"{world} processes, replicas identical: {same}; MNIST-rot test accuracy {100 * acc:.1f}%")
    # wait for rank 0's evaluation: a rank that tears gloo down while another still holds it can abort
    # ("terminate called without an active exception", seen once in CI)
    dist.barrier()
    dist.destroy_process_group()
    if not same:
        raise SystemExit("replicas diverged")


if __name__ == "__main__":
    main()
