"""What the benchmark twins (torch_bench.py, jax_bench.py) share: toygrad.bench's report line and command line, which
toygrad/bench.py writes out itself (tests/test_bench.py checks the fields agree). The standard library only: each
twin runs in its own virtual environment, without toygrad or numpy."""
import argparse


def line(name, framework, steps, seconds, flops_per_step, final_loss, cpu_seconds, extras):
    """toygrad.bench's line for one workload, with `framework` in place of `toygrad`:
        WORKLOAD FRAMEWORK steps=N seconds=S us_per_step=U gflops=G final_loss=L cpu_seconds=C [extras]"""
    extra = "".join(f" {k}={v:.4g}" if isinstance(v, float) else f" {k}={v}" for k, v in extras.items())
    return (f"{name} {framework} steps={steps} seconds={seconds:.3f} us_per_step={seconds / steps * 1e6:.1f} "
            f"gflops={flops_per_step * steps / seconds / 1e9:.2f} final_loss={final_loss:.6g} "
            f"cpu_seconds={cpu_seconds:.3f}{extra}")


def arguments(description, workloads, argv=None, more=lambda parser: None):
    """toygrad.bench's command line, `[WORKLOAD ...] [--steps N]`, plus what `more(parser)` adds; the workloads
    named (all of them if none) are args.workloads."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(workloads)} (default: all)")
    parser.add_argument("--steps", type=int, help="training steps (default: each workload's own)")
    more(parser)
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    unknown = [w for w in args.workloads if w not in workloads]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(workloads)}")
    args.workloads = args.workloads or list(workloads)
    return args
