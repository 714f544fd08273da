// seedbank resolve HASH [--out DIR | --layout a1111|comfyui --models-dir DIR] [--first|--pick N] [--json]
// seedbank resolve --from-dir MODELS_DIR [--fetch-missing-previews] [--json]
//
// Any hash people have for a model file, from the local index or from
// peers, to the verified file where the user's tools look for it.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "../civitai.h"
#include "../client.h"
#include "../files.h"
#include "../library.h"
#include "../one_file.h"
#include "cli.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/progress.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node::cli {
namespace {

namespace p = seedbank::protocol;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ResolveArgs {
  std::string hash, out, layout, models_dir, from_dir;
  std::vector<std::string> peers;
  CommandNetwork net;
  bool json = false, first = false, fetch_previews = false;
  int pick = 0, timeout = 600;
};

// One file a hash named: which release, which file (or sample image).
struct Candidate {
  p::RecordId release{};
  std::uint16_t file = 0;
  bool image = false;
  std::string matched_as;
  std::vector<p::RecordId> also;  // other releases that name the same bytes (one_file.h)
};

// The folder a model of `type` goes in for a tool, relative to its models
// folder; empty when the tool has none for that type.
std::string layout_folder(const std::string& layout, schema::ModelType type) {
  using T = schema::ModelType;
  bool comfy = layout == "comfyui";
  switch (type) {
    case T::CHECKPOINT:
      return comfy ? "checkpoints" : "Stable-diffusion";
    case T::LORA:
    case T::LOCON:
    case T::DORA:
      return comfy ? "loras" : "Lora";
    case T::TEXTUAL_INVERSION:
      return comfy ? "embeddings" : "../embeddings";  // A1111 keeps them beside models/
    case T::HYPERNETWORK:
      return "hypernetworks";
    case T::VAE:
      return comfy ? "vae" : "VAE";
    case T::CONTROLNET:
      return comfy ? "controlnet" : "ControlNet";
    case T::UPSCALER:
      return comfy ? "upscale_models" : "ESRGAN";
    case T::MOTION_MODULE:
      return comfy ? "animatediff_models" : "AnimateDiff";
    case T::DETECTION:
      return comfy ? "ultralytics" : "adetailer";
    default:
      return "";
  }
}

// Expands a magnet link into the hashes it carries; anything else as is.
std::vector<std::string> hash_forms(const std::string& text) {
  if (text.rfind("magnet:?", 0) != 0) return {text};
  std::vector<std::string> out;
  std::size_t at = 8;
  while (at < text.size()) {
    auto end = text.find('&', at);
    if (end == std::string::npos) end = text.size();
    auto part = text.substr(at, end - at);
    if (part.rfind("xt=", 0) == 0) out.push_back(part.substr(3));
    at = end + 1;
  }
  return out;
}

// The files `text` names in the local index, leaving out releases this
// node refuses (retracted, denied by a followed deny-list, left out by its
// policy); the first such refusal is kept in `refused`.
p::Result<std::vector<Candidate>> lookup(indexer::Index& index, const NodeConfig& config, const std::string& text,
                                         std::string* refused = nullptr) {
  std::vector<Candidate> out;
  std::optional<p::Error> first_error;
  for (const auto& form : hash_forms(text)) {
    auto matches = index.find_by_hash(form, kMaxClaims);
    if (!matches) {
      if (!first_error) first_error = matches.error();
      continue;
    }
    for (const auto& m : *matches) {
      auto rec = index.get(m.release);
      if (!rec || rec->kind() != p::RecordKind::release) continue;
      if (auto why = config.refuses(*rec, index)) {
        if (refused && refused->empty())
          *refused = std::string(rec->body().getPayload().getRelease().getModelName().cStr()) + " " +
                     rec->body().getPayload().getRelease().getVersionName().cStr() + " is " + *why;
        continue;
      }
      auto r = rec->body().getPayload().getRelease();
      Candidate c;
      c.release = m.release;
      c.matched_as = m.matched_as;
      if (m.file == indexer::kReleaseLevel) {
        // A release id or info-hash: its primary model file.
        if (r.getFiles().size() == 0) continue;
        unsigned primary = 0;
        for (unsigned i = 0; i < r.getFiles().size(); ++i)
          if (r.getFiles()[i].getPrimary()) {
            primary = i;
            break;
          }
        c.file = static_cast<std::uint16_t>(primary);
      } else {
        c.image = (m.file & indexer::kImageFlag) != 0;
        c.file = static_cast<std::uint16_t>(m.file & ~indexer::kImageFlag);
      }
      bool seen = false;
      for (const auto& o : out) seen = seen || (o.release == c.release && o.file == c.file && o.image == c.image);
      if (!seen) out.push_back(c);
    }
  }
  if (out.empty() && first_error && hash_forms(text).size() == 1) return *first_error;
  return out;
}

struct FileRef;
FileRef file_of(const p::Record& rec, const Candidate& c);

// Identical bytes are one file: candidates naming the same SHA-256 become
// the one whose release speaks for it (order_claims), the others listed in
// `also`. What stays ambiguous is a short hash that matches different files.
void collapse_identical(std::vector<Candidate>& candidates, NodeContext& node);

struct FileRef {
  std::string name;
  std::uint64_t size = 0;
  p::Sha256Digest sha256{};
};

FileRef file_of(const p::Record& rec, const Candidate& c) {
  auto r = rec.body().getPayload().getRelease();
  FileRef f;
  if (c.image) {
    auto img = r.getImages()[c.file];
    f.name = img.getName().cStr();
    f.size = img.getSize();
    f.sha256 = p::util::digest_of(img.getSha256());
  } else {
    auto file = r.getFiles()[c.file];
    f.name = file.getName().cStr();
    f.size = file.getSize();
    f.sha256 = p::util::digest_of(file.getHashes().getSha256());
  }
  return f;
}

void collapse_identical(std::vector<Candidate>& candidates, NodeContext& node) {
  std::vector<std::pair<p::Sha256Digest, std::vector<std::size_t>>> groups;  // in order of first match
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    auto rec = node.index->get(candidates[i].release);
    if (!rec) continue;
    auto sha = file_of(*rec, candidates[i]).sha256;
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& e) { return e.first == sha; });
    if (g == groups.end())
      groups.push_back({sha, {i}});
    else
      g->second.push_back(i);
  }
  std::vector<Candidate> out;
  for (const auto& [sha, members] : groups) {
    std::vector<p::Record> releases;
    for (auto i : members)
      if (auto rec = node.index->get(candidates[i].release)) releases.push_back(std::move(rec).value());
    order_claims(releases, *node.index, node.options.data_dir);
    Candidate best = candidates[members.front()];
    for (auto i : members)
      if (candidates[i].release == releases.front().id()) best = candidates[i];
    for (std::size_t k = 1; k < releases.size(); ++k) best.also.push_back(releases[k].id());
    out.push_back(std::move(best));
  }
  candidates = std::move(out);
}

std::string license_text(schema::License::Reader l) {
  static const char* uses[] = {"Image", "RentCivit", "Rent", "Sell"};
  std::string commercial;
  for (auto u : l.getAllowCommercialUse()) {
    auto i = static_cast<unsigned>(u);
    commercial += (commercial.empty() ? "" : ", ") + std::string(i < 4 ? uses[i] : "Other");  // a newer schema's value
  }
  std::string out = l.getName().size() ? std::string(l.getName().cStr()) + ": " : "";
  out += "commercial use " + (commercial.empty() ? std::string("none") : commercial);
  out += l.getAllowDerivatives() ? "; derivatives allowed" : "; no derivatives";
  out += l.getAllowNoCredit() ? "; credit not required" : "; credit required";
  out += l.getAllowDifferentLicense() ? "; other licenses allowed" : "; same license required";
  return out;
}

p::Result<p::Sha256Digest> sha256_of_file(const fs::path& path) {
  auto d = p::hash_file(path);
  if (!d) return d.error();
  return d->sha256;
}

// The network side of one command: the running node's client, or this
// command's own runtime, started on first use.
class Network {
 public:
  Network(const ResolveArgs& a, NodeContext& node) : a_(a), node_(node) {}
  ~Network() { client_.reset(); }  // a command's own runtime saves resume data

  // Asks peers about `hash`; how many records arrived and how many peers were asked.
  std::pair<std::size_t, std::size_t> query(const std::string& hash) {
    auto c = client();
    if (!c) return {0, 0};
    auto r = (*c)->query({hash, std::chrono::milliseconds(5000)});
    if (!r) return {0, 0};
    return {r->received, r->peers};
  }

  // Starts fetching `files` of the release; follow it with follow_fetch.
  p::Result<NodeClient*> fetch(const p::Record& rec, const std::vector<std::string>& files) {
    auto c = client();
    if (!c) return c.error();
    FetchRequest request;
    request.release = rec.id();
    request.files = files;
    request.peers = a_.peers;
    if (auto st = c.value()->fetch(request); !st) return st.error();
    return c;
  }

 private:
  p::Result<NodeClient*> client() {
    if (!client_) {
      auto c = connect_or_start(node_, a_.net.options());
      if (!c) {
        std::cerr << "seedbank: " << c.error().message << "\n";
        return c.error();
      }
      client_ = std::move(c).value();
    }
    return client_.get();
  }

  const ResolveArgs& a_;
  NodeContext& node_;
  std::unique_ptr<NodeClient> client_;
};

struct Outcome {
  nlohmann::ordered_json json;
  int code = kOk;
};

// Where the node of this data dir serves its API, for the URLs sidecars
// hold: the running node's address (one on every interface is reached on
// loopback), else the address `seedbank node` takes by default. Tools that
// read a sidecar then fetch its images and downloads whenever that node runs.
std::string api_base_url(const fs::path& data_dir) {
  std::string listen = "127.0.0.1:7480";
  if (auto client = connect_to_node(data_dir))
    if (auto status = (*client)->status(); status && !status->http_listen.empty()) listen = status->http_listen;
  if (listen.rfind("0.0.0.0:", 0) == 0) listen = "127.0.0.1" + listen.substr(7);
  if (listen.rfind("[::]:", 0) == 0) listen = "[::1]" + listen.substr(4);
  return "http://" + listen;
}

// Writes `<stem>.civitai.info` and, when the first sample image is in the
// store, `<stem>.preview.png` beside `model_path`.
std::vector<std::string> write_sidecars(const p::Record& rec, NodeContext& node, const fs::path& model_path,
                                        bool overwrite) {
  std::vector<std::string> written;
  auto stem = model_path.parent_path() / model_path.stem();
  auto info = fs::path(stem.string() + ".civitai.info");
  if (overwrite || !fs::exists(info)) {
    CivitaiLinks links;
    links.base_url = api_base_url(node.options.data_dir);
    auto st = write_file_atomically(info, civitai_model_version(rec, *node.index, links).dump(2) + "\n");
    if (st)
      written.push_back(info.string());
    else
      std::cerr << "seedbank: " << st.error().message << "\n";
  }
  // The first image as shown: its author may have hidden one since.
  const auto shown = node.index->shown(rec);
  auto r = shown.body().getPayload().getRelease();
  auto preview = fs::path(stem.string() + ".preview.png");
  if (r.getImages().size() && (overwrite || !fs::exists(preview))) {
    auto sha = p::util::digest_of(r.getImages()[0].getSha256());
    if (node.store->contains(sha)) {
      auto st = place_from_store(*node.store, sha, preview);
      if (st)
        written.push_back(preview.string());
      else
        std::cerr << "seedbank: " << st.error().message << "\n";
    }
  }
  return written;
}

// "  mirror   ..." for a mirror: who signed it, where it came from.
std::string mirror_text(const p::Record& rec, const indexer::Index& index) {
  auto origin = p::read_origin(rec.body().getPayload().getRelease());
  if (!origin) return "";
  auto name = display_name(index, rec.author());
  auto agree = agreeing_mirrors(rec, index);
  return "  mirror   mirrored by " + rec.author().to_text() + (name.empty() ? "" : " (" + name + ")") + " from " +
         origin->site + " (model " + std::to_string(origin->model_id) + ", version " +
         std::to_string(origin->version_id) +
         (origin->creator.empty() ? std::string() : ", creator " + origin->creator) + "); not signed by the creator" +
         (agree ? "; " + std::to_string(agree) + " other mirror" + (agree == 1 ? "" : "s") + " agree" : "") + "\n";
}

nlohmann::ordered_json mirror_json(const p::Record& rec, const indexer::Index& index) {
  auto origin = p::read_origin(rec.body().getPayload().getRelease());
  if (!origin) return nullptr;
  return {{"site", origin->site},
          {"modelId", origin->model_id},
          {"versionId", origin->version_id},
          {"creator", origin->creator},
          {"url", origin->url},
          {"signedBy", rec.author().to_text()},
          {"agreeing", agreeing_mirrors(rec, index)}};
}

std::string also_text(const Candidate& c, const indexer::Index& index) {
  if (c.also.empty()) return "";
  std::string out = "  also     named by";
  for (const auto& id : c.also) {
    auto rec = index.get(id);
    if (!rec) continue;
    auto r = rec->body().getPayload().getRelease();
    out += std::string(out.ends_with("by") ? " " : ", ") + p::to_hex(id).substr(0, 12) + " (" +
           (p::is_mirror(r) ? "a mirror by " : "also claimed by ") + rec->author().to_text().substr(0, 16) + "...)";
  }
  return out + "\n";
}

nlohmann::ordered_json also_json(const Candidate& c) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& id : c.also) out.push_back(p::to_hex(id));
  return out;
}

int resolve_one(const ResolveArgs& a, NodeContext& node) {
  auto started = Clock::now();
  Network net(a, node);
  std::string refused;
  auto candidates = lookup(*node.index, node.options.config, a.hash, &refused);
  if (!candidates) return report(candidates.error());
  std::string found_via = "local index";
  std::size_t asked = 0;
  if (candidates->empty()) {
    // Unknown here: ask peers (by every form a magnet link carries).
    for (const auto& form : hash_forms(a.hash)) {
      auto [received, peers] = net.query(form);
      asked = std::max(asked, peers);
      if (received) break;
    }
    candidates = lookup(*node.index, node.options.config, a.hash, &refused);
    if (!candidates) return report(candidates.error());
    found_via = "peers";
  }
  collapse_identical(*candidates, node);
  double lookup_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  // Peers were asked too: what is refused here may have a version that is not.
  if (candidates->empty() && !refused.empty())
    return report(p::make_error(p::ErrorCode::not_found,
                                a.hash + " names a release this node leaves out: " + refused + "; nothing was placed"));
  if (candidates->empty() && asked == 0 && found_via == "peers") {
    std::cerr << "seedbank: " << a.hash << " is not in the local index and no peer could be asked (none known or "
              << "reachable, and, unless --no-dht, none found on the Mainline DHT); start a node, or pass --bootstrap "
              << "HOST:PORT\n";
    return kNoPeers;
  }
  if (candidates->empty())
    return report(p::make_error(p::ErrorCode::not_found, "no model file with hash " + a.hash +
                                                             " in the local index or on " + std::to_string(asked) +
                                                             " peers; check the hash, or connect to more peers "
                                                             "(--bootstrap HOST:PORT)"));
  std::size_t choice = 0;
  if (candidates->size() > 1 && !a.first && a.pick == 0) {
    std::cerr << "seedbank: " << a.hash << " matches " << candidates->size()
              << " files; pick one with --pick N (or --first):\n";
    for (std::size_t i = 0; i < candidates->size(); ++i) {
      auto rec = node.index->get((*candidates)[i].release);
      if (!rec) continue;
      auto r = rec->body().getPayload().getRelease();
      auto f = file_of(*rec, (*candidates)[i]);
      std::cerr << "  " << i + 1 << ". " << r.getModelName().cStr() << " " << r.getVersionName().cStr() << " ("
                << p::model_type_name(r.getType()) << ")  " << f.name << "  SHA256 "
                << p::to_hex_upper(f.sha256).substr(0, 12) << "  release " << p::to_hex(rec->id()).substr(0, 12)
                << "\n";
    }
    return kAmbiguous;
  }
  if (a.pick > 0) {
    if (static_cast<std::size_t>(a.pick) > candidates->size())
      return report(p::make_error(
          p::ErrorCode::invalid_argument,
          "--pick " + std::to_string(a.pick) + ": there are only " + std::to_string(candidates->size()) + " matches"));
    choice = static_cast<std::size_t>(a.pick - 1);
  }
  const auto& c = (*candidates)[choice];
  auto rec = node.index->get(c.release);
  if (!rec) return report(rec.error());
  auto r = rec->body().getPayload().getRelease();
  auto f = file_of(*rec, c);
  std::string creator = rec->author().to_text(), name = display_name(*node.index, rec->author());

  // Where it goes.
  fs::path dir = a.out.empty() ? fs::path(".") : fs::path(a.out);
  if (!a.layout.empty()) {
    auto sub = layout_folder(a.layout, r.getType());
    if (sub.empty())
      return report(p::make_error(
          p::ErrorCode::invalid_argument,
          std::string(p::model_type_name(r.getType())) + " models have no folder in " + a.layout + "; use --out DIR"));
    dir = (fs::path(a.models_dir) / sub).lexically_normal();
  }
  fs::path dest = dir / f.name;

  if (!a.json) {
    std::cerr << r.getModelName().cStr() << " " << r.getVersionName().cStr() << "  (" << p::model_type_name(r.getType())
              << (r.getBaseModel().size() ? ", " : "") << r.getBaseModel().cStr() << ")\n"
              << "  creator  " << creator << (name.empty() ? "" : " (" + name + ")") << "\n"
              << "  file     " << f.name << "  " << human_bytes(f.size) << "  SHA256 " << p::to_hex_upper(f.sha256)
              << "\n"
              << "  license  " << license_text(r.getLicense()) << "\n"
              << mirror_text(*rec, *node.index) << also_text(c, *node.index) << "  found    by " << c.matched_as
              << " in the " << found_via << ", release " << p::to_hex(rec->id()) << "\n"
              << "  to       " << dest.string() << "\n";
  }

  bool already = false, fetched = false;
  if (fs::exists(dest)) {
    auto have = sha256_of_file(dest);
    if (have && *have == f.sha256)
      already = true;
    else if (have)
      return report(p::make_error(p::ErrorCode::conflict,
                                  dest.string() + " exists with other content; move it away or choose --out"));
  }
  TorrentStatus last;
  double connect_s = -1, transfer_s = 0, place_s = 0;
  auto fetch_start = Clock::now();
  if (!already && !node.store->locate(f.sha256)) {
    std::vector<std::string> files{f.name};
    const auto shown = node.index->shown(*rec);  // the preview as shown
    auto images = shown.body().getPayload().getRelease().getImages();
    if (!a.layout.empty() && images.size()) files.push_back(images[0].getName().cStr());
    auto client = net.fetch(*rec, files);
    if (!client) return report(client.error());
    int code = follow_fetch(**client, rec->id(), a.timeout, a.json, &last, &connect_s);
    if (code != kOk) return code;
    transfer_s = std::chrono::duration<double>(Clock::now() - fetch_start).count() - std::max(0.0, connect_s);
    if (!node.store->locate(f.sha256))
      return report(p::make_error(p::ErrorCode::internal, "the fetch finished but the file is not in the store"));
    fetched = true;
  }
  auto place_start = Clock::now();
  if (!already)
    if (auto st = place_from_store(*node.store, f.sha256, dest); !st) return report(st.error());
  place_s = std::chrono::duration<double>(Clock::now() - place_start).count();
  std::vector<std::string> sidecars;
  if (!a.layout.empty()) sidecars = write_sidecars(*rec, node, dest, true);

  nlohmann::ordered_json out = {
      {"releaseId", p::to_hex(rec->id())},
      {"model", r.getModelName().cStr()},
      {"version", r.getVersionName().cStr()},
      {"type", std::string(p::model_type_name(r.getType()))},
      {"baseModel", r.getBaseModel().cStr()},
      {"creator", creator},
      {"creatorName", name},
      {"license", license_text(r.getLicense())},
      {"file",
       {{"name", f.name},
        {"size", f.size},
        {"SHA256", p::to_hex_upper(f.sha256)},
        {"AutoV2", p::to_hex_upper(f.sha256).substr(0, 10)}}},
      {"mirror", mirror_json(*rec, *node.index)},
      {"alsoNamedBy", also_json(c)},
      {"matchedAs", c.matched_as},
      {"foundIn", found_via},
      {"lookupMs", lookup_ms},
      {"timings",
       {{"lookupMs", lookup_ms},
        {"connectMs", fetched ? std::max(0.0, connect_s) * 1000 : 0.0},
        {"transferMs", transfer_s * 1000},
        {"placeMs", place_s * 1000},
        {"totalMs", std::chrono::duration<double, std::milli>(Clock::now() - started).count()}}},
      {"path", fs::absolute(dest).lexically_normal().string()},
      {"alreadyPresent", already},
      {"fetched", fetched},
      {"sidecars", sidecars}};
  if (a.json)
    print_json(out);
  else
    std::cerr << (already ? "already there, verified: " : "verified: ") << dest.string()
              << (sidecars.empty() ? "" : " (+" + std::to_string(sidecars.size()) + " sidecars)") << "\n";
  return kOk;
}

// Civitai Helper's scan: every model file in a folder, known or not.
int resolve_dir(const ResolveArgs& a, NodeContext& node) {
  std::error_code ec;
  if (!fs::is_directory(a.from_dir, ec))
    return report(p::make_error(p::ErrorCode::not_found, a.from_dir + ": no such folder; check the path"));
  // The walk and hash cache `seedbank share` uses: a second scan of an
  // unchanged folder reads nothing.
  auto walk = walk_library({fs::path(a.from_dir)});
  HashCache cache(node.options.data_dir / "hash-cache.json");
  cache.load();
  Network net(a, node);
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::size_t known = 0;
  for (const auto& problem : walk.problems)
    results.push_back({{"path", problem.path.string()}, {"error", problem.what}});
  for (const auto& file : walk.files) {
    const auto& path = file.path;
    nlohmann::ordered_json item = {{"path", path.string()}};
    auto cached = cache.find(file.identity);
    if (!cached) {
      std::optional<ProgressBar> bar;
      if (!a.json) bar.emplace(path.filename().string(), file.identity.size, true);
      auto d = hash_library_file(file, [&](std::uint64_t done, std::uint64_t) {
        if (bar) bar->update(done);
      });
      if (bar) bar->finish();
      if (!d) {
        item["error"] = d.error().message;
        results.push_back(item);
        continue;
      }
      cached = d->sha256;
      cache.put(file.identity, *cached);
    }
    std::string sha = p::to_hex_upper(*cached);
    item["SHA256"] = sha;
    item["AutoV2"] = sha.substr(0, 10);
    std::string refused;
    auto candidates = lookup(*node.index, node.options.config, sha, &refused);
    if (candidates && candidates->empty()) {
      net.query(sha);
      candidates = lookup(*node.index, node.options.config, sha, &refused);
    }
    if (!candidates || candidates->empty()) {
      item["known"] = false;
      if (!refused.empty()) item["refused"] = refused;
      results.push_back(item);
      continue;
    }
    collapse_identical(*candidates, node);
    auto rec = node.index->get((*candidates)[0].release);
    if (!rec) continue;
    ++known;
    auto r = rec->body().getPayload().getRelease();
    item["known"] = true;
    item["releaseId"] = p::to_hex(rec->id());
    item["model"] = r.getModelName().cStr();
    item["version"] = r.getVersionName().cStr();
    item["type"] = std::string(p::model_type_name(r.getType()));
    const auto shown = node.index->shown(*rec);  // its first image as shown
    auto images = shown.body().getPayload().getRelease().getImages();
    if (a.fetch_previews && images.size()) {
      auto img = p::util::digest_of(images[0].getSha256());
      if (!node.store->contains(img)) {
        if (auto client = net.fetch(*rec, {images[0].getName().cStr()})) {
          TorrentStatus last;
          (void)follow_fetch(**client, rec->id(), std::min(a.timeout, 120), true, &last);
        }
      }
    }
    item["sidecars"] = write_sidecars(*rec, node, path, false);
    results.push_back(item);
  }
  if (auto st = cache.save(); !st) std::cerr << "seedbank: " << st.error().message << "\n";
  if (a.json) {
    print_json({{"folder", a.from_dir}, {"files", results.size()}, {"known", known}, {"results", results}});
  } else {
    for (const auto& item : results) {
      std::cout << (item.value("known", false) ? "known    " : (item.contains("error") ? "error    " : "unknown  "))
                << item["path"].get<std::string>();
      if (item.value("known", false))
        std::cout << "  ->  " << item["model"].get<std::string>() << " " << item["version"].get<std::string>();
      if (item.contains("refused")) std::cout << "  (known, but " << item["refused"].get<std::string>() << ")";
      std::cout << "\n";
    }
    std::cout << known << " of " << results.size() << " model files are known to the network\n";
  }
  return kOk;
}

}  // namespace

void add_resolve_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ResolveArgs>();
  auto* cmd = app.add_subcommand("resolve", "Any model hash, from any peer, to a verified file where your tools look");
  cmd->footer(
      "HASH: SHA256, AutoV2 (10 hex, A1111's \"Model hash\"), AutoV1 (8), AutoV3 (12), CRC32,\n"
      "a BitTorrent v1/v2 info-hash, a magnet link or a release id. Unknown locally, it is\n"
      "asked of peers (through the running node, or a gossip session this command opens\n"
      "from --bootstrap, <data dir>/bootstrap.txt or peers.json). The file is fetched over\n"
      "BitTorrent, its SHA-256 checked, and only then renamed into place.\n"
      "--layout a1111: --models-dir is webui/models (Stable-diffusion, Lora, VAE, ControlNet,\n"
      "ESRGAN, hypernetworks; embeddings go to webui/embeddings). --layout comfyui:\n"
      "ComfyUI/models (checkpoints, loras, embeddings, vae, controlnet, upscale_models).\n"
      "Both also get <model>.civitai.info and <model>.preview.png.\n"
      "Exit codes: 0 done, 3 not found, 4 ambiguous, 5 verification failed, 6 no peers, 1 other.");
  cmd->add_option("hash", a->hash, "The hash, magnet link or release id");
  cmd->add_option("--out", a->out, "Folder for the file (default: the current folder)");
  cmd->add_option("--layout", a->layout, "Put it where a tool looks: a1111 or comfyui")
      ->check(CLI::IsMember({"a1111", "comfyui"}));
  cmd->add_option("--models-dir", a->models_dir, "The tool's models folder (with --layout)");
  cmd->add_flag("--first", a->first, "When a short hash matches several files, take the first");
  cmd->add_option("--pick", a->pick, "When a short hash matches several files, take the N-th (1-based)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--peer", a->peers, "BitTorrent HOST:PORT of a node that seeds it (repeatable)");
  a->net.add_to(cmd);
  cmd->add_option("--timeout", a->timeout, "Give up after this many seconds (default 600)");
  cmd->add_option("--from-dir", a->from_dir, "Hash every model file in a folder and report which are known");
  cmd->add_flag("--fetch-missing-previews", a->fetch_previews, "With --from-dir: fetch sample images for previews");
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->callback([a, &ctx] {
    if (a->hash.empty() == a->from_dir.empty()) {
      ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument, "give a HASH or --from-dir FOLDER"));
      return;
    }
    if (!a->layout.empty() && a->models_dir.empty()) {
      ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument, "--layout needs --models-dir"));
      return;
    }
    if (!a->layout.empty() && !a->out.empty()) {
      ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument, "use --out or --layout, not both"));
      return;
    }
    with_node(ctx,
              [&](NodeContext& node) { return a->from_dir.empty() ? resolve_one(*a, node) : resolve_dir(*a, node); });
  });
}

}  // namespace seedbank::node::cli
