// seedbank fetch RELEASE_ID|HASH [--images-only] [--peer HOST:PORT]... [--out DIR] [--json]
// seedbank status [--json]
// seedbank record export ID [--out FILE] / seedbank record import FILE...
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <thread>

#include "../client.h"
#include "../files.h"
#include "cli.h"
#include "seedbank/node/context.h"
#include "seedbank/node/progress.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node::cli {
namespace {

namespace p = seedbank::protocol;

struct FetchArgs {
  std::string what, out;
  std::vector<std::string> peers;
  CommandNetwork net;
  bool images_only = false, json = false;
  int timeout = 600;
  std::uint64_t download_limit = 0;
  std::uint64_t store_quota = 0;
};

// Places the release's files (those in the store) in `out` under their names.
p::Status place_files(const p::Record& rec, ContentStore& store, const std::filesystem::path& out, bool images_only) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return p::make_error(p::ErrorCode::io, out.string() + ": " + ec.message());
  auto r = rec.body().getPayload().getRelease();
  auto place = [&](const char* name, capnp::Data::Reader sha) -> p::Status {
    auto d = p::util::digest_of(sha);
    auto dst = out / name;
    if (std::filesystem::exists(dst)) return {};
    return place_from_store(store, d, dst);
  };
  if (!images_only)
    for (auto f : r.getFiles())
      if (auto st = place(f.getName().cStr(), f.getHashes().getSha256()); !st) return st;
  for (auto i : r.getImages())
    if (auto st = place(i.getName().cStr(), i.getSha256()); !st) return st;
  return {};
}

int run_fetch(const FetchArgs& a, const Context& ctx) {
  auto node = open_node(ctx);
  if (!node) return report(node.error());
  auto rec = find_release(*(*node)->index, a.what);
  if (!rec) return report(rec.error());
  std::string release_hex = p::to_hex(rec->id());
  auto r = rec->body().getPayload().getRelease();
  if (!a.json)
    std::cerr << "fetching " << r.getModelName().cStr() << " " << r.getVersionName().cStr() << " ("
              << release_hex.substr(0, 12) << ")" << (a.images_only ? ", sample images only" : "") << "\n";

  // Through the running node when there is one; otherwise this command's
  // own runtime (BitTorrent and gossip, dialling the known peers).
  auto net = a.net.options();
  net.download_limit = a.download_limit;
  net.store_quota = a.store_quota;
  auto client = connect_or_start(**node, net);
  if (!client) return report(client.error());
  FetchRequest request;
  request.release = rec->id();
  request.images_only = a.images_only;
  request.peers = a.peers;
  if (auto started = (*client)->fetch(request); !started) return report(started.error());

  TorrentStatus last;
  int code = follow_fetch(**client, rec->id(), a.timeout, a.json, &last);
  client->reset();  // a command's own runtime saves resume data for a later try
  if (code == kOk && !a.out.empty())
    if (auto st = place_files(*rec, *(*node)->store, a.out, a.images_only); !st) return report(st.error());
  if (a.json)
    print_json(
        {{"releaseId", release_hex}, {"complete", code == kOk}, {"status", torrent_status_json(last)}, {"out", a.out}});
  else if (code == kOk)
    std::cerr << "fetched and verified " << last.files_stored << " files" << (a.out.empty() ? "" : " into " + a.out)
              << "\n";
  return code;
}

int run_status(bool json, bool peers, const Context& ctx) {
  auto client = connect_to_node(ctx.global.resolved_data_dir());
  if (!client) return report(client.error());
  auto reply = (*client)->status(peers);
  if (!reply) return report(reply.error());
  if (json) {
    print_json(nlohmann::ordered_json::parse(reply_json(*reply).dump()));
    return kOk;
  }
  std::cout << "network " << reply->network << ", BitTorrent on " << reply->bt_listen << ", " << reply->releases
            << " releases indexed\n";
  if (reply->index_known) {  // an older node does not say
    std::cout << "index " << human_bytes(reply->index_used) << " of its " << human_bytes(reply->index_limit)
              << " limit\n";
    auto row = [](const std::string& what, const std::string& count, std::uint64_t bytes) {
      std::cout << "  " << std::left << std::setw(16) << what << std::right << std::setw(12) << count << "  "
                << std::setw(10) << human_bytes(bytes) << "\n";
    };
    for (const auto& k : reply->index_kinds) row(k.kind, std::to_string(k.records) + " records", k.bytes);
    row("shared views", "", reply->index_shared);
    row("free pages", "", reply->index_free);
  }
  for (const auto& t : reply->torrents) {
    std::cout << t.release_id.substr(0, 12) << "  " << t.name << "  " << t.state << "  " << human_bytes(t.done) << "/"
              << human_bytes(t.wanted) << "  down " << human_rate(static_cast<double>(t.download_rate)) << "  up "
              << human_rate(static_cast<double>(t.upload_rate)) << "  " << t.peers << " peers  received "
              << human_bytes(t.downloaded) << " from " << t.peers_sent << " peers, sent " << human_bytes(t.uploaded);
    if (!t.error.empty()) std::cout << "  error: " << t.error;
    std::cout << "\n";
    for (const auto& ps : t.peer_list) {
      std::cout << "    " << ps.endpoint << "  " << (ps.connected ? ps.source : "gone");
      if (ps.connected)
        std::cout << "  " << (ps.seed ? std::string("seed") : std::to_string(static_cast<int>(ps.progress * 100)) + "%")
                  << "  down " << human_rate(static_cast<double>(ps.download_rate)) << "  up "
                  << human_rate(static_cast<double>(ps.upload_rate));
      std::cout << "  received " << human_bytes(ps.received);
      if (ps.connected) std::cout << "  sent " << human_bytes(ps.sent) << "  " << ps.client;
      std::cout << "\n";
    }
  }
  return kOk;
}

}  // namespace

// A release id, or any hash that names exactly one release.
protocol::Result<protocol::Record> find_release(indexer::Index& index, const std::string& what) {
  namespace p = seedbank::protocol;
  if (auto id = p::from_hex_fixed<32>(what)) {
    auto rec = index.get(*id);
    if (rec && rec->kind() == p::RecordKind::release) return rec;
    if (rec && rec->kind() == p::RecordKind::unknown)
      return p::make_error(p::ErrorCode::unsupported,
                           "record " + what + " is of a kind this version of seedbank does not know (payload tag " +
                               std::to_string(rec->payload_tag()) + "); upgrade seedbank to use it");
  }
  auto matches = index.find_by_hash(what);
  if (!matches) return matches.error();
  std::vector<p::RecordId> releases;
  for (const auto& m : *matches)
    if (std::find(releases.begin(), releases.end(), m.release) == releases.end()) releases.push_back(m.release);
  if (releases.empty())
    return p::make_error(p::ErrorCode::not_found, "no release in the local index matches " + what +
                                                      "; import its record first (`seedbank record import`)");
  if (releases.size() > 1) {
    std::string list;
    for (const auto& r : releases) list += "\n  " + p::to_hex(r);
    return p::make_error(p::ErrorCode::ambiguous, what + " matches " + std::to_string(releases.size()) +
                                                      " releases; give one release id:" + list);
  }
  return index.get(releases[0]);
}

int follow_fetch(NodeClient& client, const p::RecordId& release, int timeout, bool quiet, TorrentStatus* out,
                 double* first_peer_seconds) {
  auto start = std::chrono::steady_clock::now();
  auto last_peer = start;
  std::optional<ProgressBar> bar;  // made once the size is known
  TorrentStatus& last = *out;
  int code = kOk;
  for (;;) {
    auto s = client.torrent(release);
    if (!s) return report(s.error());
    last = *s;
    if (last.peers > 0) {
      last_peer = std::chrono::steady_clock::now();
      if (first_peer_seconds && *first_peer_seconds < 0)
        *first_peer_seconds = std::chrono::duration<double>(last_peer - start).count();
    }
    if (!last.error.empty()) {
      // Exit 5 only when a file failed its SHA-256 check; 1 for the rest.
      bool verification = last.error_kind == ErrorKind::verification;
      code = report(p::make_error(verification ? p::ErrorCode::bad_signature : p::ErrorCode::io, last.error));
      break;
    }
    if (last.complete) break;
    if (!bar && last.wanted > 0) bar.emplace("fetch", last.wanted, !quiet);
    if (bar) bar->update(last.done, std::to_string(last.peers) + " peers");
    auto now = std::chrono::steady_clock::now();
    if (now - start > std::chrono::seconds(timeout)) {
      code = report(p::make_error(p::ErrorCode::io, "gave up after " + std::to_string(timeout) + " s"));
      break;
    }
    if (now - last_peer > std::chrono::seconds(std::min(timeout, 30))) {
      std::cerr << "seedbank: no peer has this release; pass --peer HOST:PORT of a node that seeds it\n";
      code = kNoPeers;
      break;
    }
    client.wait(std::chrono::milliseconds(20));
  }
  if (bar) bar->finish();
  return code;
}

void add_fetch_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<FetchArgs>();
  auto* fetch = app.add_subcommand("fetch", "Download a release over BitTorrent, verified, into the store");
  fetch->footer(
      "RELEASE is a release id or any hash of one of its files (SHA256, AutoV2, ...).\n"
      "Goes through the running node when there is one; otherwise starts BitTorrent\n"
      "and gossip (dialling the known peers to find seeders) for the duration of the\n"
      "command, without listening for gossip or serving anything else. Every file's\n"
      "SHA-256 is checked against the signed release before it enters the store.\n"
      "Exit codes: 0 done, 3 not found, 4 ambiguous, 5 verification failed, 6 no peers.");
  fetch->add_option("release", a->what, "Release id or file hash")->required();
  fetch->add_flag("--images-only", a->images_only, "Only the sample images");
  fetch->add_option("--peer", a->peers, "HOST:PORT of a node that seeds it (repeatable)");
  fetch->add_option("--out", a->out, "Also place the files in this folder");
  a->net.add_to(fetch);
  fetch->add_option("--timeout", a->timeout, "Give up after this many seconds (default 600)");
  fetch->add_option("--download-limit", a->download_limit, "Without a running node: bytes/s (0: none)");
  fetch->add_option("--store-quota", a->store_quota, "Without a running node: refuse if the store would exceed this");
  fetch->add_flag("--json", a->json, "Print the result as JSON");
  fetch->callback([a, &ctx] { ctx.exit_code = run_fetch(*a, ctx); });

  auto json = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status", "Torrents of the running node: state, rates, peers");
  status->add_flag("--json", *json, "Print JSON");
  auto peers = std::make_shared<bool>(false);
  status->add_flag("--peers", *peers,
                   "Also list each torrent's peers: how they were found, what they have, rates, and the bytes "
                   "each sent us and we sent it");
  status->callback([json, peers, &ctx] { ctx.exit_code = run_status(*json, *peers, ctx); });

  auto* record = app.add_subcommand("record", "Move signed records between nodes by hand");
  record->require_subcommand(1);
  auto export_id = std::make_shared<std::string>();
  auto export_out = std::make_shared<std::string>();
  auto* exp = record->add_subcommand("export", "Write a record's signed bytes");
  exp->add_option("id", *export_id, "Record id (64 hex)")->required();
  exp->add_option("--out", *export_out, "File (default stdout)");
  exp->callback([&ctx, export_id, export_out] {
    with_node(ctx, [&](NodeContext& node) {
      auto id = p::from_hex_fixed<32>(*export_id);
      if (!id) return report(p::make_error(p::ErrorCode::invalid_argument, *export_id + " is not a record id"));
      auto rec = node.index->get(*id);
      if (!rec) return report(rec.error());
      auto bytes = rec->bytes();
      if (export_out->empty()) {  // binary: around the terminal filter on std::cout
        std::cout.flush();
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
        std::fflush(stdout);
      } else
        std::ofstream(*export_out, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
      return static_cast<int>(kOk);
    });
  });
  auto torrent_id = std::make_shared<std::string>();
  auto torrent_out = std::make_shared<std::string>();
  auto* torrent = app.add_subcommand("torrent", "Write a release's .torrent file for other BitTorrent clients");
  torrent->add_option("release", *torrent_id, "Release id or file hash")->required();
  torrent->add_option("--out", *torrent_out, "File to write")->required();
  auto torrent_compat = std::make_shared<bool>(false);
  torrent->add_flag("--v1-compat", *torrent_compat,
                    "Write the plain v1 form (same files and pieces) for clients that cannot load BEP 52 torrents, "
                    "such as aria2 1.36 and Transmission 3");
  torrent->callback([&ctx, torrent_id, torrent_out, torrent_compat] {
    with_node(ctx, [&](NodeContext& node) {
      auto rec = find_release(*node.index, *torrent_id);
      if (!rec) return report(rec.error());
      auto bytes = torrent_file_for_clients(rec->body().getPayload().getRelease(), *torrent_compat);
      if (!bytes) return report(bytes.error());
      std::ofstream out(*torrent_out, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<long>(bytes->size()));
      if (!out) return report(p::make_error(p::ErrorCode::io, *torrent_out + ": cannot write"));
      return static_cast<int>(kOk);
    });
  });

  auto files = std::make_shared<std::vector<std::string>>();
  auto* imp = record->add_subcommand("import", "Verify and add signed records to the local index");
  imp->add_option("files", *files, "Record files")->required()->check(CLI::ExistingFile);
  imp->callback([&ctx, files] {
    with_node(ctx, [&](NodeContext& node) {
      int exit_code = kOk;
      std::vector<p::RecordId> added;
      for (const auto& f : *files) {
        std::ifstream in(f, std::ios::binary);
        p::Bytes bytes((std::istreambuf_iterator<char>(in)), {});
        auto out = node.index->ingest(bytes, indexer::Durability::local);
        if (out.status == indexer::IngestStatus::rejected) {
          exit_code = report(p::make_error(out.error.code, f + ": " + out.error.message));
          continue;
        }
        if (out.status != indexer::IngestStatus::duplicate) added.push_back(out.id);
        std::cout << p::to_hex(out.id) << (out.status == indexer::IngestStatus::duplicate ? " (already here)" : "")
                  << "\n";
      }
      // A node running on this data dir seeds and announces them now.
      if (!added.empty()) announce_to_node(node.options.data_dir, std::move(added));
      return exit_code;
    });
  });
}

}  // namespace seedbank::node::cli
