#!/usr/bin/env bash
# One simulation as a Slurm job array of N tasks, then a dependent merge job.
#   sbatch deploy/shards/slurm-array.sh
# SLURM_ARRAY_TASK_ID runs 1..N here, which is --shard's 1-based K. RESULTS must be on a file
# system every node sees (the partials are read by the merge job).
#SBATCH --job-name=backstop-shards
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=04:00:00
set -euo pipefail
N=8
RESULTS=${RESULTS:-$HOME/backstop-results/run-1}
SCENARIO=${SCENARIO:-scenarios/black-thursday-2020.toml}
export CI=1   # no progress bar in the job logs
backstop simulate "$SCENARIO" --paths 10000 --seed 2020 \
  --shard "$SLURM_ARRAY_TASK_ID/$N" --out "$RESULTS/shard-$SLURM_ARRAY_TASK_ID"
# Task 1 submits the merge once; it starts only after every task of the array succeeded.
if [ "$SLURM_ARRAY_TASK_ID" = 1 ]; then
  sbatch --dependency=afterok:"$SLURM_ARRAY_JOB_ID" --job-name=backstop-merge \
    --wrap="backstop merge $RESULTS/shard-* --out $RESULTS/merged"
fi
