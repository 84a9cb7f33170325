import os

# A render's parallelism is one process per shot, beside FFmpeg's encoder threads. numpy's OpenBLAS
# threads would only compete with them: the few matrix products here are small, and OpenBLAS keeps its
# idle threads spinning for a while after each call (synthesizing a score cost twice its wall time in
# CPU). Set before numpy loads; a value already in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
