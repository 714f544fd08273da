// The control protocol between the CLI and a running node, as typed
// requests and replies. On the control socket each request is one JSON
// line {"v": kControlVersion, "cmd": ..., fields} and each reply one JSON
// line {"v": ..., fields} or {"v": ..., "error": "..."}; the mapping lives
// in control_protocol.cpp and nowhere else. A node answers a request of a
// newer version it does not know with an error naming both versions, never
// by guessing. Private to node/.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "discovery.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// Version 2: typed requests, `announce` with record ids, `query` answered
// when done (version 1 polled `query-status`).
inline constexpr int kControlVersion = 2;

struct StatusRequest {
  bool peers = false;  // each torrent's peer list too (`status --peers`)
};
struct StatusReply {
  std::string network, bt_listen, gossip_listen, http_listen;
  std::size_t gossip_peers = 0;
  std::uint64_t records = 0, releases = 0;
  std::vector<TorrentStatus> torrents;
  // The index's bytes ("index" in JSON; absent from an older node's reply).
  struct IndexKind {
    std::string kind;  // "release", ...
    std::uint64_t records = 0, bytes = 0, record_bytes = 0;
  };
  bool index_known = false;  // the node said (an older one does not)
  std::uint64_t index_limit = 0, index_used = 0, index_shared = 0, index_free = 0;
  std::vector<IndexKind> index_kinds;  // kinds with records or bytes
};

// Starts (or continues) a fetch: every file, the sample images only, or the
// named files and images. `peers` are BitTorrent HOST:PORT hints.
struct FetchRequest {
  protocol::RecordId release{};
  bool images_only = false;
  std::vector<std::string> files;
  std::vector<std::string> peers;
};
struct FetchReply {
  std::size_t seeders = 0;  // BitTorrent addresses the node knew to seed it when it started
};

struct TorrentRequest {
  protocol::RecordId release{};
};

// Asks every gossip peer about a hash the index does not know; answered
// once every peer answered or `timeout` passed.
struct QueryRequest {
  std::string hash;
  std::chrono::milliseconds timeout{5000};
};
struct QueryReply {
  std::size_t received = 0;  // new records stored
  std::size_t peers = 0;     // sessions asked
};

struct PeersRequest {};
struct PeersReply {
  std::string node_id, listen;
  std::vector<PeerInfo> peers;
  GossipStats stats;
  bool gossip = false;                       // false: gossip is off on this node
  std::optional<DiscoveryStatus> discovery;  // a daemon's; none from a command
};

struct AddPeerRequest {
  std::string address;  // HOST:PORT
};

// Records this process just stored in the shared index (a publish, a
// rating): the node announces them and seeds the releases among them at
// once. Empty `ids`: look for anything new (the old `rescan`).
struct AnnounceRequest {
  std::vector<protocol::RecordId> ids;
};
struct AnnounceReply {
  std::size_t seeding = 0;  // torrents added for seeding
};

using ControlRequest = std::variant<StatusRequest, FetchRequest, TorrentRequest, QueryRequest, PeersRequest,
                                    AddPeerRequest, AnnounceRequest>;

// Requests: encode for the socket, decode what arrived (error
// invalid_argument naming the field, or unsupported_version).
nlohmann::json request_json(const ControlRequest& request);
protocol::Result<ControlRequest> parse_request(const nlohmann::json& json);

// Replies (an error travels as {"error": message}).
nlohmann::json reply_json(const StatusReply& reply);
nlohmann::json reply_json(const FetchReply& reply);
nlohmann::json reply_json(const TorrentStatus& reply);
nlohmann::json reply_json(const QueryReply& reply);
nlohmann::json reply_json(const PeersReply& reply);
nlohmann::json reply_json(const AnnounceReply& reply);
nlohmann::json error_json(const protocol::Error& error);

protocol::Result<StatusReply> parse_status_reply(const nlohmann::json& json);
protocol::Result<FetchReply> parse_fetch_reply(const nlohmann::json& json);
protocol::Result<TorrentStatus> parse_torrent_reply(const nlohmann::json& json);
protocol::Result<QueryReply> parse_query_reply(const nlohmann::json& json);
protocol::Result<PeersReply> parse_peers_reply(const nlohmann::json& json);
protocol::Result<AnnounceReply> parse_announce_reply(const nlohmann::json& json);
protocol::Status parse_ok_reply(const nlohmann::json& json);

// One torrent as `seedbank status --json` shows it (and the torrent reply).
nlohmann::json torrent_status_json(const TorrentStatus& status);

}  // namespace seedbank::node
