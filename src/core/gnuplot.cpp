#include "mome/core/gnuplot.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "mome/core/log.h"

namespace mome {

bool RunGnuplot(const std::string& script, const std::string& what) {
  // gnuplot's own messages go to a temporary file, never to our stdout (the tools' machine-readable output);
  // the last one is quoted when gnuplot fails.
  char log_path[] = "/tmp/mome_gnuplot_XXXXXX";
  const int fd = ::mkstemp(log_path);
  if (fd >= 0) ::close(fd);
  FILE* pipe = ::popen(("gnuplot > " + std::string(log_path) + " 2>&1").c_str(), "w");
  if (!pipe) {
    log::Warn(what, ": gnuplot could not be started; no plot written (install gnuplot-nox)");
    std::remove(log_path);
    return false;
  }
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int status = ::pclose(pipe);
  if (const char* keep = std::getenv("MOME_GNUPLOT_SCRIPT")) std::ofstream(keep) << script;  // for debugging
  std::string last, line;
  for (std::ifstream in(log_path); std::getline(in, line);)
    if (!line.empty() && line.find_first_not_of(" ^") != std::string::npos) last = line;
  std::remove(log_path);
  if (status != 0) {
    log::Warn(what, ": gnuplot failed (exit status ", status, "): ", last.empty() ? "is gnuplot-nox installed?" : last);
    return false;
  }
  return true;
}

}  // namespace mome
