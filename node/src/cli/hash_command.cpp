// seedbank hash FILE... [--json]
#include <iostream>

#include "../files.h"
#include "cli.h"
#include "seedbank/node/progress.h"
#include "seedbank/protocol/content_hash.h"

namespace seedbank::node::cli {
namespace {

constexpr std::uint64_t kProgressThreshold = 64ull << 20;

struct HashArgs {
  std::vector<std::string> files;
  bool json = false;
  unsigned threads = 2;
};

nlohmann::ordered_json to_json(const std::string& file, const protocol::FileDigests& d) {
  nlohmann::ordered_json hashes = {
      {"SHA256", d.sha256_hex()},
      {"AutoV1", d.autov1_hex()},
      {"AutoV2", d.autov2_hex()},
      {"CRC32", d.crc32_hex()},
  };
  if (d.autov3) hashes["AutoV3"] = d.autov3_hex();
  nlohmann::ordered_json out = {{"file", file}, {"size", d.size}, {"hashes", hashes}};
  out["piecesRoot"] =
      d.pieces_root ? nlohmann::ordered_json(protocol::to_hex(*d.pieces_root)) : nlohmann::ordered_json(nullptr);
  out["autoV1WindowShort"] = d.autov1_window_short;
  if (d.autov3) out["autoV3Offset"] = d.autov3_offset;
  return out;
}

void print_text(const std::string& file, const protocol::FileDigests& d) {
  std::cout << file << "  (" << d.size << " bytes, " << human_bytes(d.size) << ")\n";
  std::cout << "  SHA256      " << d.sha256_hex() << "\n";
  std::cout << "  AutoV2      " << d.autov2_hex() << "\n";
  std::cout << "  AutoV1      " << d.autov1_hex() << (d.autov1_window_short ? "  (file ends before 0x110000)" : "")
            << "\n";
  if (d.autov3) std::cout << "  AutoV3      " << d.autov3_hex() << "\n";
  std::cout << "  CRC32       " << d.crc32_hex() << "\n";
  if (d.pieces_root) std::cout << "  PiecesRoot  " << protocol::to_hex(*d.pieces_root) << "  (BitTorrent v2)\n";
}

int run(const HashArgs& args) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  int status = kOk;
  for (const auto& file : args.files) {
    if (auto st = check_regular_file(file); !st) {  // before opening: a FIFO would block
      status = report(st.error());
      if (args.json) all.push_back({{"file", file}, {"error", st.error().message}});
      continue;
    }
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    ProgressBar bar(std::filesystem::path(file).filename().string(), ec ? 0 : size,
                    !args.json && !ec && size > kProgressThreshold);
    protocol::HashOptions options;
    options.threads = args.threads;
    auto digests = protocol::hash_file(file, options, [&](std::uint64_t done, std::uint64_t) { bar.update(done); });
    bar.finish();
    if (!digests) {
      status = report(digests.error());
      if (args.json) all.push_back({{"file", file}, {"error", digests.error().message}});
      continue;
    }
    if (args.json)
      all.push_back(to_json(file, *digests));
    else
      print_text(file, *digests);
  }
  if (args.json) print_json(all);
  return status;
}

}  // namespace

void add_hash_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<HashArgs>();
  auto* cmd = app.add_subcommand("hash", "Print every content hash of model files, computed in one read");
  cmd->footer(
      "Hashes (hex, uppercase as Civitai shows them):\n"
      "  SHA256  SHA-256 of the whole file; AutoV2 is its first 10 hex digits\n"
      "  AutoV1  SHA-256 of the 0x10000 bytes at offset 0x100000, first 8 hex digits\n"
      "          (AUTOMATIC1111's old model hash). A file shorter than 0x110000 bytes\n"
      "          hashes whatever lies in that window, possibly nothing (then it is\n"
      "          the SHA-256 of empty input, E3B0C442).\n"
      "  AutoV3  safetensors only: SHA-256 of the bytes after the header\n"
      "          (8 + header length), first 12 hex digits; unchanged by metadata edits\n"
      "  CRC32   IEEE CRC-32 (zlib's)\n"
      "  PiecesRoot  the file's BitTorrent v2 merkle root (lowercase hex)\n"
      "Files over 64 MiB show a progress bar when stderr is a terminal.");
  cmd->add_option("files", args->files, "Files to hash")->required();
  cmd->add_flag("--json", args->json, "Print a JSON array, one object per file");
  cmd->add_option("--threads", args->threads, "Hashing threads (1 or 2)")->check(CLI::Range(1, 2));
  cmd->callback([args, &ctx] { ctx.exit_code = run(*args); });
}

}  // namespace seedbank::node::cli
