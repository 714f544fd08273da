// Writing files so that readers see the old content or the new, never a
// part: a temporary file beside the destination, then rename. Private to
// node/.
#pragma once

#include <filesystem>
#include <string_view>

#include "seedbank/node/store.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// Whether `path` (after symlinks) is a regular file a command may read:
// error not_found ("no such file"), or invalid_argument naming what it is
// instead (a directory, a FIFO, a device, a socket) and what to give. Checked
// before opening, so a FIFO never blocks and a device is never read.
protocol::Status check_regular_file(const std::filesystem::path& path);

// A short unique temporary name in dest's folder (dest's own name may be up
// to 255 bytes, so it is not reused).
std::filesystem::path temp_path_beside(const std::filesystem::path& dest);

// Renames `tmp` over `dest`; on failure removes `tmp`.
protocol::Status replace_file(const std::filesystem::path& tmp, const std::filesystem::path& dest);

// Writes `bytes` to `dest` whole or not at all; on failure the previous
// file is kept and the temporary one removed.
protocol::Status write_file_atomically(const std::filesystem::path& dest, std::string_view bytes);

// Puts the store file with `sha256` at `dest` (creating its folder): a hard
// link, else a copy whose SHA-256 is checked, under a temporary name that is
// renamed only once it is complete.
protocol::Status place_from_store(const ContentStore& store, const protocol::Sha256Digest& sha256,
                                  const std::filesystem::path& dest);

}  // namespace seedbank::node
