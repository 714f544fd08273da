#include "control_protocol.h"

#include <limits>
#include <type_traits>

namespace seedbank::node {
namespace {

namespace p = seedbank::protocol;
using json = nlohmann::json;

p::Error bad(const std::string& what) {
  return p::make_error(p::ErrorCode::invalid_argument, "control request: " + what);
}

// Reads `key` of `j` as T, or leaves `out` as is when absent; false when
// present with another type.
template <typename T>
bool read(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  // Numbers from the socket: integers in range only (a double or a
  // negative number is not converted).
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!it->is_number_integer()) return false;
    if constexpr (std::is_unsigned_v<T>) {
      if (!it->is_number_unsigned() || it->get<std::uint64_t>() > std::numeric_limits<T>::max()) return false;
    } else {
      if (it->is_number_unsigned()
              ? it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<T>::max())
              : it->get<std::int64_t>() < std::numeric_limits<T>::min() ||
                    it->get<std::int64_t>() > std::numeric_limits<T>::max())
        return false;
    }
  }
  try {
    *out = it->get<T>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

p::Result<p::RecordId> record_id(const json& j, const char* key) {
  std::string hex;
  if (!read(j, key, &hex)) return bad(std::string(key) + " is not a string");
  auto id = p::from_hex_fixed<32>(hex);
  if (!id) return bad(std::string(key) + " must be a record id (64 hex digits)");
  return *id;
}

// Names on the wire; one table each way.
constexpr std::pair<ErrorKind, std::string_view> kErrorKinds[] = {
    {ErrorKind::verification, "verification"}, {ErrorKind::disk_full, "diskFull"}, {ErrorKind::io, "io"}};
constexpr std::pair<p::ErrorCode, std::string_view> kErrorCodes[] = {
    {p::ErrorCode::not_found, "notFound"},
    {p::ErrorCode::invalid_argument, "invalidArgument"},
    {p::ErrorCode::refused, "refused"},
    {p::ErrorCode::conflict, "conflict"},
    {p::ErrorCode::limit, "limit"}};

template <typename T, std::size_t N>
std::string_view name_in(const std::pair<T, std::string_view> (&table)[N], T value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "";
}

template <typename T, std::size_t N>
T value_in(const std::pair<T, std::string_view> (&table)[N], std::string_view name, T otherwise) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return otherwise;
}

// A reply that carries "error" becomes that error; io, since the node
// reports it as text.
p::Status reply_error(const json& j) {
  if (!j.is_object()) return p::make_error(p::ErrorCode::malformed, "the node's reply is not a JSON object");
  if (auto it = j.find("error"); it != j.end() && it->is_string())
    return p::make_error(value_in(kErrorCodes, j.value("errorCode", ""), p::ErrorCode::io), it->get<std::string>());
  return {};
}

// One torrent_status_json object (its "error" is the torrent's, not the request's).
p::Result<TorrentStatus> parse_torrent(const json& j) {
  if (!j.is_object()) return p::make_error(p::ErrorCode::malformed, "the node's torrent status is not an object");
  TorrentStatus s;
  bool ok = read(j, "releaseId", &s.release_id) && read(j, "name", &s.name) && read(j, "infoHash", &s.info_hash) &&
            read(j, "v1CompatInfoHash", &s.v1_compat_info_hash) && read(j, "state", &s.state) &&
            read(j, "wanted", &s.wanted) && read(j, "done", &s.done) && read(j, "downloadRate", &s.download_rate) &&
            read(j, "uploadRate", &s.upload_rate) && read(j, "downloaded", &s.downloaded) &&
            read(j, "uploaded", &s.uploaded) && read(j, "peersSent", &s.peers_sent) && read(j, "peers", &s.peers) &&
            read(j, "filesWanted", &s.files_wanted) && read(j, "filesStored", &s.files_stored) &&
            read(j, "filesInPlace", &s.files_in_place) && read(j, "complete", &s.complete) &&
            read(j, "allStored", &s.all_stored) && read(j, "error", &s.error);
  std::string kind;
  ok = ok && read(j, "errorKind", &kind);
  if (!ok) return p::make_error(p::ErrorCode::malformed, "the node's torrent status has a field of the wrong type");
  s.error_kind = value_in(kErrorKinds, kind, ErrorKind::none);
  if (auto it = j.find("peerList"); it != j.end() && it->is_array())
    for (const auto& pj : *it) {
      PeerStatus ps;
      if (!pj.is_object() || !read(pj, "endpoint", &ps.endpoint) || !read(pj, "client", &ps.client) ||
          !read(pj, "source", &ps.source) || !read(pj, "connected", &ps.connected) || !read(pj, "seed", &ps.seed) ||
          !read(pj, "progress", &ps.progress) || !read(pj, "downloadRate", &ps.download_rate) ||
          !read(pj, "uploadRate", &ps.upload_rate) || !read(pj, "received", &ps.received) ||
          !read(pj, "sent", &ps.sent))
        return p::make_error(p::ErrorCode::malformed, "the node's peer list has a field of the wrong type");
      s.peer_list.push_back(std::move(ps));
    }
  return s;
}

}  // namespace

json torrent_status_json(const TorrentStatus& s) {
  json j = {{"releaseId", s.release_id},
            {"name", s.name},
            {"infoHash", s.info_hash},
            {"state", s.state},
            {"wanted", s.wanted},
            {"done", s.done},
            {"downloadRate", s.download_rate},
            {"uploadRate", s.upload_rate},
            {"downloaded", s.downloaded},
            {"uploaded", s.uploaded},
            {"peers", s.peers},
            {"peersSent", s.peers_sent},
            {"filesWanted", s.files_wanted},
            {"filesStored", s.files_stored},
            {"filesInPlace", s.files_in_place},
            {"complete", s.complete},
            {"allStored", s.all_stored},
            {"error", s.error},
            {"errorKind", name_in(kErrorKinds, s.error_kind)},
            {"v1CompatInfoHash", s.v1_compat_info_hash.empty() ? json(nullptr) : json(s.v1_compat_info_hash)}};
  if (!s.peer_list.empty()) {
    json peers = json::array();
    for (const auto& ps : s.peer_list)
      peers.push_back({{"endpoint", ps.endpoint},
                       {"client", ps.client},
                       {"source", ps.source},
                       {"connected", ps.connected},
                       {"seed", ps.seed},
                       {"progress", ps.progress},
                       {"downloadRate", ps.download_rate},
                       {"uploadRate", ps.upload_rate},
                       {"received", ps.received},
                       {"sent", ps.sent}});
    j["peerList"] = std::move(peers);
  }
  return j;
}

json request_json(const ControlRequest& request) {
  json j = std::visit(
      [](const auto& r) -> json {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, StatusRequest>) {
          return r.peers ? json{{"cmd", "status"}, {"peers", true}} : json{{"cmd", "status"}};
        } else if constexpr (std::is_same_v<T, FetchRequest>) {
          return {{"cmd", "fetch"},
                  {"release", p::to_hex(r.release)},
                  {"imagesOnly", r.images_only},
                  {"files", r.files},
                  {"peers", r.peers}};
        } else if constexpr (std::is_same_v<T, TorrentRequest>) {
          return {{"cmd", "torrent"}, {"release", p::to_hex(r.release)}};
        } else if constexpr (std::is_same_v<T, QueryRequest>) {
          return {{"cmd", "query"}, {"hash", r.hash}, {"timeoutMs", r.timeout.count()}};
        } else if constexpr (std::is_same_v<T, PeersRequest>) {
          return {{"cmd", "peers"}};
        } else if constexpr (std::is_same_v<T, AddPeerRequest>) {
          return {{"cmd", "add-peer"}, {"address", r.address}};
        } else {
          static_assert(std::is_same_v<T, AnnounceRequest>);
          json ids = json::array();
          for (const auto& id : r.ids) ids.push_back(p::to_hex(id));
          return {{"cmd", "announce"}, {"ids", ids}};
        }
      },
      request);
  j["v"] = kControlVersion;
  return j;
}

p::Result<ControlRequest> parse_request(const json& j) {
  if (!j.is_object()) return bad("not a JSON object");
  int version = 1;
  if (!read(j, "v", &version)) return bad("\"v\" is not a number");
  if (version > kControlVersion)
    return p::make_error(p::ErrorCode::invalid_argument,
                         "the command speaks control protocol version " + std::to_string(version) +
                             " and this node only " + std::to_string(kControlVersion) +
                             "; restart the node with the same seedbank build as the command");
  std::string cmd;
  if (!read(j, "cmd", &cmd)) return bad("\"cmd\" is not a string");
  if (cmd == "status") {
    StatusRequest r;
    if (!read(j, "peers", &r.peers)) return bad("\"peers\" is not a boolean");
    return ControlRequest{r};
  }
  if (cmd == "fetch") {
    FetchRequest r;
    auto id = record_id(j, "release");
    if (!id) return id.error();
    r.release = *id;
    if (!read(j, "imagesOnly", &r.images_only) || !read(j, "files", &r.files) || !read(j, "peers", &r.peers))
      return bad("fetch: imagesOnly must be a boolean, files and peers lists of strings");
    return ControlRequest{std::move(r)};
  }
  if (cmd == "torrent") {
    auto id = record_id(j, "release");
    if (!id) return id.error();
    return ControlRequest{TorrentRequest{*id}};
  }
  if (cmd == "query") {
    QueryRequest r;
    std::int64_t ms = 5000;
    if (!read(j, "hash", &r.hash) || !read(j, "timeoutMs", &ms)) return bad("query: hash and timeoutMs");
    r.timeout = std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 100, 60000));
    return ControlRequest{std::move(r)};
  }
  if (cmd == "peers") return ControlRequest{PeersRequest{}};
  if (cmd == "add-peer") {
    AddPeerRequest r;
    if (!read(j, "address", &r.address)) return bad("add-peer: address must be a string");
    return ControlRequest{std::move(r)};
  }
  if (cmd == "announce" || cmd == "rescan") {
    AnnounceRequest r;
    std::vector<std::string> ids;
    if (!read(j, "ids", &ids)) return bad("announce: ids must be a list of record ids");
    for (const auto& hex : ids) {
      auto id = p::from_hex_fixed<32>(hex);
      if (!id) return bad("announce: '" + hex.substr(0, 80) + "' is not a record id");
      r.ids.push_back(*id);
    }
    return ControlRequest{std::move(r)};
  }
  return bad("unknown command '" + cmd.substr(0, 80) + "'");
}

json reply_json(const StatusReply& r) {
  json torrents = json::array();
  for (const auto& t : r.torrents) torrents.push_back(torrent_status_json(t));
  json kinds = json::array();
  for (const auto& k : r.index_kinds)
    kinds.push_back({{"kind", k.kind}, {"records", k.records}, {"bytes", k.bytes}, {"recordBytes", k.record_bytes}});
  json out = {{"v", kControlVersion},        {"network", r.network},
              {"btListen", r.bt_listen},     {"gossipListen", r.gossip_listen},
              {"httpListen", r.http_listen}, {"gossipPeers", r.gossip_peers},
              {"records", r.records},        {"releases", r.releases}};
  if (r.index_known)
    out["index"] = {{"limit", r.index_limit},
                    {"used", r.index_used},
                    {"shared", r.index_shared},
                    {"free", r.index_free},
                    {"byKind", kinds}};
  out["torrents"] = std::move(torrents);
  return out;
}

json reply_json(const FetchReply& r) { return {{"v", kControlVersion}, {"ok", true}, {"seeders", r.seeders}}; }

json reply_json(const TorrentStatus& r) { return {{"v", kControlVersion}, {"torrent", torrent_status_json(r)}}; }

json reply_json(const QueryReply& r) {
  return {{"v", kControlVersion}, {"done", true}, {"received", r.received}, {"peers", r.peers}};
}

json reply_json(const PeersReply& r) {
  json peers = json::array();
  for (const auto& p : r.peers)
    peers.push_back({{"address", p.address},
                     {"nodeId", p.node_id},
                     {"outbound", p.outbound},
                     {"state", p.state},
                     {"source", p.source},
                     {"agent", p.agent},
                     {"version", p.version},
                     {"features", p.features},
                     {"gossipPort", p.gossip_port},
                     {"btPort", p.bt_port},
                     {"bytesIn", p.bytes_in},
                     {"bytesOut", p.bytes_out},
                     {"recordsIn", p.records_in},
                     {"recordsOut", p.records_out},
                     {"connectedSeconds", p.connected_seconds}});
  json out = {{"v", kControlVersion}, {"peers", peers}};
  if (r.gossip) {
    out["nodeId"] = r.node_id;
    out["listen"] = r.listen;
    out["recordsReceived"] = r.stats.records_received;
    out["bans"] = r.stats.bans;
    out["reconciliations"] = r.stats.reconciliations;
  }
  if (r.discovery) {
    const auto& d = *r.discovery;
    out["discovery"] = {{"rendezvous", d.rendezvous},
                        {"rendezvousKey", d.rendezvous_key},
                        {"lan", d.lan},
                        {"portMapping", d.port_mapping},
                        {"dhtNodes", d.dht_nodes},
                        {"dhtBytesIn", d.dht_bytes_in},
                        {"dhtBytesOut", d.dht_bytes_out},
                        {"lookups", d.lookups},
                        {"announces", d.announces},
                        {"foundDht", d.found_dht},
                        {"foundLan", d.found_lan},
                        {"beaconsSent", d.beacons_sent},
                        {"beaconsReceived", d.beacons_received},
                        {"reachable", d.reachable}};
  }
  return out;
}

json reply_json(const AnnounceReply& r) { return {{"v", kControlVersion}, {"added", r.seeding}}; }

json error_json(const p::Error& e) {
  json j = {{"v", kControlVersion}, {"error", e.message}};
  if (auto name = name_in(kErrorCodes, e.code); !name.empty()) j["errorCode"] = name;
  return j;
}

namespace {

// A reply: its error, or `fill` reading the fields into a T (false: a
// field had the wrong type).
template <typename T, typename Fill>
p::Result<T> parse_reply(const json& j, const char* what, Fill fill) {
  if (auto st = reply_error(j); !st) return st.error();
  T r;
  if (!fill(r))
    return p::make_error(p::ErrorCode::malformed,
                         std::string("the node's ") + what + " reply has a field of the wrong type");
  return r;
}

}  // namespace

p::Result<StatusReply> parse_status_reply(const json& j) {
  return parse_reply<StatusReply>(j, "status", [&](StatusReply& r) {
    bool ok = read(j, "network", &r.network) && read(j, "btListen", &r.bt_listen) &&
              read(j, "gossipListen", &r.gossip_listen) && read(j, "httpListen", &r.http_listen) &&
              read(j, "gossipPeers", &r.gossip_peers) && read(j, "records", &r.records) &&
              read(j, "releases", &r.releases);
    if (auto it = j.find("index"); ok && it != j.end() && it->is_object()) {
      const auto& x = *it;
      r.index_known = true;
      ok = read(x, "limit", &r.index_limit) && read(x, "used", &r.index_used) && read(x, "shared", &r.index_shared) &&
           read(x, "free", &r.index_free);
      if (auto kinds = x.find("byKind"); ok && kinds != x.end() && kinds->is_array())
        for (const auto& k : *kinds) {
          StatusReply::IndexKind ik;
          if (!k.is_object() || !read(k, "kind", &ik.kind) || !read(k, "records", &ik.records) ||
              !read(k, "bytes", &ik.bytes) || !read(k, "recordBytes", &ik.record_bytes))
            return false;
          r.index_kinds.push_back(std::move(ik));
        }
    }
    if (auto it = j.find("torrents"); ok && it != j.end() && it->is_array())
      for (const auto& t : *it) {
        auto s = parse_torrent(t);
        if (!s) return false;
        r.torrents.push_back(std::move(s).value());
      }
    return ok;
  });
}

p::Result<FetchReply> parse_fetch_reply(const json& j) {
  return parse_reply<FetchReply>(j, "fetch", [&](FetchReply& r) { return read(j, "seeders", &r.seeders); });
}

p::Result<TorrentStatus> parse_torrent_reply(const json& j) {
  if (auto st = reply_error(j); !st) return st.error();
  auto it = j.find("torrent");
  if (it == j.end()) return p::make_error(p::ErrorCode::malformed, "the node's reply has no torrent");
  return parse_torrent(*it);
}

p::Result<QueryReply> parse_query_reply(const json& j) {
  return parse_reply<QueryReply>(
      j, "query", [&](QueryReply& r) { return read(j, "received", &r.received) && read(j, "peers", &r.peers); });
}

p::Result<PeersReply> parse_peers_reply(const json& j) {
  return parse_reply<PeersReply>(j, "peers", [&](PeersReply& r) {
    r.gossip = j.contains("nodeId");
    bool ok = read(j, "nodeId", &r.node_id) && read(j, "listen", &r.listen) &&
              read(j, "recordsReceived", &r.stats.records_received) && read(j, "bans", &r.stats.bans) &&
              read(j, "reconciliations", &r.stats.reconciliations);
    if (auto it = j.find("peers"); it != j.end() && it->is_array())
      for (const auto& e : *it) {
        PeerInfo i;
        ok = ok && read(e, "address", &i.address) && read(e, "nodeId", &i.node_id) &&
             read(e, "outbound", &i.outbound) && read(e, "state", &i.state) && read(e, "agent", &i.agent) &&
             read(e, "gossipPort", &i.gossip_port) && read(e, "btPort", &i.bt_port) &&
             read(e, "bytesIn", &i.bytes_in) && read(e, "bytesOut", &i.bytes_out) &&
             read(e, "recordsIn", &i.records_in) && read(e, "recordsOut", &i.records_out) &&
             read(e, "connectedSeconds", &i.connected_seconds) && read(e, "version", &i.version) &&
             read(e, "features", &i.features) && read(e, "source", &i.source);
        r.peers.push_back(std::move(i));
      }
    if (auto it = j.find("discovery"); ok && it != j.end() && it->is_object()) {
      const auto& e = *it;
      DiscoveryStatus d;
      ok = read(e, "rendezvous", &d.rendezvous) && read(e, "rendezvousKey", &d.rendezvous_key) &&
           read(e, "lan", &d.lan) && read(e, "portMapping", &d.port_mapping) && read(e, "dhtNodes", &d.dht_nodes) &&
           read(e, "dhtBytesIn", &d.dht_bytes_in) && read(e, "dhtBytesOut", &d.dht_bytes_out) &&
           read(e, "lookups", &d.lookups) && read(e, "announces", &d.announces) && read(e, "foundDht", &d.found_dht) &&
           read(e, "foundLan", &d.found_lan) && read(e, "beaconsSent", &d.beacons_sent) &&
           read(e, "beaconsReceived", &d.beacons_received) && read(e, "reachable", &d.reachable);
      r.discovery = d;
    }
    return ok;
  });
}

p::Result<AnnounceReply> parse_announce_reply(const json& j) {
  return parse_reply<AnnounceReply>(j, "announce", [&](AnnounceReply& r) { return read(j, "added", &r.seeding); });
}

p::Status parse_ok_reply(const json& j) { return reply_error(j); }

}  // namespace seedbank::node
