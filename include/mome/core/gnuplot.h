// Plots through gnuplot (Debian gnuplot-nox, pngcairo). Plotting is a convenience: when gnuplot is missing or
// fails, a warning names what was being plotted and the caller carries on.
#pragma once

#include <string>

namespace mome {

// Runs a gnuplot script; false (with a warning naming `what`) when gnuplot is missing or fails.
bool RunGnuplot(const std::string& script, const std::string& what);

}  // namespace mome
