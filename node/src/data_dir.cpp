#include "seedbank/node/data_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace seedbank::node {

std::filesystem::path default_data_dir() {
  if (const char* env = std::getenv("SEEDBANK_DATA_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "seedbank";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".local" / "share" / "seedbank";
  return std::filesystem::current_path() / ".seedbank";
}

protocol::Status prepare_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  bool existed = std::filesystem::exists(dir, ec);
  if (!existed) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return protocol::make_error(
          protocol::ErrorCode::io,
          dir.string() + ": cannot create the data dir: " + ec.message() + "; pass a writable folder with --data-dir");
    ::chmod(dir.c_str(), 0700);
  } else if (!std::filesystem::is_directory(dir, ec)) {
    return protocol::make_error(protocol::ErrorCode::invalid_argument,
                                dir.string() + ": the data dir exists but is not a folder");
  }
  if (::access(dir.c_str(), W_OK) != 0)
    return protocol::make_error(protocol::ErrorCode::io, dir.string() + ": the data dir is not writable");
  return {};
}

}  // namespace seedbank::node
