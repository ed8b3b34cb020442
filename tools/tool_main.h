// The shared `main` of every libmome binary: runs the tool and turns any failure into one line on stderr
// and exit code 1 — never a crash, an abort or a LibTorch backtrace on the user's screen.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <functional>
#include <iostream>
#include <string>

#include "mome/core/error.h"

namespace mome::tools {

inline std::string FirstLine(const std::string& text) {
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

inline int RunTool(const char* name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << name << ": error: " << FirstLine(e.what()) << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << name << ": error: " << FirstLine(e.what_without_backtrace()) << std::endl;
  } catch (const std::bad_alloc&) {
    std::cerr << name << ": error: out of memory" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << name << ": error: " << FirstLine(e.what()) << std::endl;
  } catch (...) {
    std::cerr << name << ": error: unknown failure" << std::endl;
  }
  return 1;
}

}  // namespace mome::tools
