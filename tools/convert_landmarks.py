#!/usr/bin/env python3
"""Converts facial landmarks into libmome's landmark JSON (include/mome/frontend/landmarks.h).

  convert_landmarks.py IN.pkl OUT.landmarks.json [--fps 25]
      auto_avsr / Visual Speech Recognition for Multiple Languages landmark pickles: a list with one entry per video
      frame, each a (68, 2) array of pixel coordinates or None where no face was found.
  convert_landmarks.py --reference IN.npy OUT.json
      a mean face (a (68, 2) array in a 256x256 frame, e.g. auto_avsr's 20words_mean_face.npy) as a one-frame
      file for `mome_prepare --roi landmarks --roi-reference OUT.json`, to reproduce auto_avsr's crops exactly.

Needs numpy (the pickles hold numpy arrays). Writes OUT atomically (temp file, then rename).
"""
import argparse
import json
import os
import pickle
import sys
import tempfile


def to_frame(entry, where):
    if entry is None:
        return None
    rows = entry.tolist() if hasattr(entry, "tolist") else entry
    if len(rows) == 0:
        return None
    if len(rows) != 68 or any(len(p) < 2 for p in rows):
        raise ValueError(f"{where}: expected 68 (x, y) points, got {len(rows)}")
    return [[float(p[0]), float(p[1])] for p in rows]


def write_atomic(path, obj):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".landmarks.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class NumpyOnlyUnpickler(pickle.Unpickler):
    """A pickle reader that builds lists, tuples, numbers and numpy arrays only: a landmark file is data, and a pickle
    naming any other class (which could run code) is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("builtins", "list"), ("builtins", "tuple")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: landmark pickles hold numpy arrays only")
        return super().find_class(module, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--fps", type=float, default=0, help="frame rate of the landmark frames (default: unstated)")
    ap.add_argument("--reference", action="store_true", help="input is a (68, 2) mean-face .npy")
    args = ap.parse_args()
    try:
        if args.reference:
            import numpy as np

            face = np.load(args.input, allow_pickle=False)
            if face.shape != (68, 2):
                raise ValueError(f"{args.input}: a reference face must be (68, 2), got {face.shape}")
            write_atomic(args.output, {"frames": [to_frame(face, args.input)]})
            print(f"{args.output}: reference face of 68 points", file=sys.stderr)
            return 0
        with open(args.input, "rb") as f:
            data = NumpyOnlyUnpickler(f).load()
        if not isinstance(data, (list, tuple)):
            raise ValueError(f"{args.input}: expected a list of per-frame landmarks, got {type(data).__name__}")
        frames = [to_frame(e, f"{args.input}: frame {i}") for i, e in enumerate(data)]
        out = {"frames": frames}
        if args.fps > 0:
            out["fps"] = args.fps
        write_atomic(args.output, out)
        missing = sum(f is None for f in frames)
        print(f"{args.output}: {len(frames)} frames, {missing} without a face", file=sys.stderr)
        return 0
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, ImportError) as e:
        print(f"convert_landmarks: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
