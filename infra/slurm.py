"""The SLURM job a process runs in, and requeueing it (``scontrol requeue``): what a run does when
SLURM warns it that its time limit is near (``#SBATCH --signal=USR1@90``)."""
from __future__ import annotations

import os
import re
import subprocess


def slurm_job_id() -> str | None:
    """The id ``scontrol`` knows the job by (``ARRAYID_TASKID`` for an array task), or None
    outside a SLURM batch job (an interactive ``srun --job-name bash|interactive`` included)."""
    if "SLURM_JOB_ID" not in os.environ or os.environ.get("SLURM_JOB_NAME") in ("bash", "interactive"):
        return None
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else os.environ["SLURM_JOB_ID"]
    return job if re.fullmatch(r"[0-9_]+", job) else None


def requeue_slurm_job(timeout: float = 60.0) -> str:
    """Put this SLURM job back in the queue (``scontrol requeue JOB``); what happened and what
    to do next, as the end of the run's last line."""
    job = slurm_job_id()
    if job is None:
        return "not a SLURM batch job, nothing requeued: run the same command again to continue"
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"requeueing SLURM job {job} failed ({type(e).__name__}: {e}): submit the job again to continue"
    if done.returncode != 0:
        why = " ".join((done.stderr or done.stdout).split())[:200]
        return (f"requeueing SLURM job {job} failed (scontrol: {why or f'status {done.returncode}'}): "
                "submit the job again to continue")
    return f"SLURM job {job} requeued: it continues from there when it starts again"
