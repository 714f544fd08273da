// Small files records name (image posts' images, profiles' avatars),
// fetched from peers a chunk at a time (wantBlob/blob) into the content
// store, one session asked at a time, and served to peers from it. Part of
// the Engine; gossip thread only (what is being fetched, and which record
// names an image, are published to the View). Waits are deadlines the
// engine's on_deadline drives, not timers.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/sessions.h"
#include "gossip/view.h"
#include "seedbank/indexer/index.h"
#include "seedbank/node/gossip.h"

namespace seedbank::node::gossip {

class Blobs {
 public:
  Blobs(Sessions& sessions, View& view, indexer::Index& index, const GossipOptions& options)
      : sessions_(sessions), view_(view), index_(index), options_(options) {}

  // Starts (or joins, or queues) a fetch of image `sha`, which `record`
  // names. False, with `done` told why (later in this I/O turn), when it
  // will not be fetched.
  bool want(const protocol::Sha256Digest& sha, const protocol::RecordId& record, SessionId exclude,
            std::function<void(protocol::Status)> done, Clock::time_point now);
  // The image a post or profile that just arrived names, fetched at once
  // (within the node's policy and quota), so images travel with records.
  void fetch_image_of(const protocol::Record& rec, Clock::time_point now);
  void on_want_blob(SessionId id, schema::WantBlob::Reader w, Clock::time_point now);
  void on_blob(SessionId id, schema::Blob::Reader b, Clock::time_point now);
  void closed(SessionId id, Clock::time_point now);
  // Acts on the waits that are over; returns the earliest one left.
  std::optional<Clock::time_point> on_deadline(Clock::time_point now);

 private:
  struct Fetch {
    protocol::RecordId record{};     // names the image
    protocol::PublicKey author;      // the naming record's
    SessionId exclude = kNoSession;  // a peer that asked us for it (so lacks it)
    SessionId asking = kNoSession;   // the peer asked now
    std::set<SessionId> tried;
    bool any_later = false;  // a peer said it is fetching it
    bool found = false;      // a peer sent some of it
    unsigned rounds = 0;
    protocol::Bytes data;  // from the peer asked now
    std::uint64_t size = 0;
    Clock::time_point started;
    // What happens at `deadline`: the peer asked did not answer in time,
    // or a wait before asking again is over (`retry`; `asking` then names
    // the busy peer to ask again, or none for a new round).
    std::optional<Clock::time_point> deadline;
    bool retry = false;
    std::vector<std::function<void(protocol::Status)>> done;
  };
  struct Queued {
    protocol::Sha256Digest sha{};
    protocol::RecordId record{};
    protocol::PublicKey author;
    SessionId exclude = kNoSession;
    std::vector<std::function<void(protocol::Status)>> done;
  };
  std::optional<std::string> refused(const protocol::Sha256Digest& sha, const protocol::Record& owner) const;
  bool over_quota(std::uint64_t extra, Clock::time_point now);
  void start(Queued q, Clock::time_point now);
  void next_peer(const protocol::Sha256Digest& sha, Clock::time_point now);
  void retry_later(const protocol::Sha256Digest& sha, SessionId same, Clock::time_point now);
  void ask(SessionId id, const protocol::Sha256Digest& sha, Fetch& f, Clock::time_point now);
  protocol::Status save(const protocol::Sha256Digest& sha, const protocol::Bytes& data);
  void finish(const protocol::Sha256Digest& sha, protocol::Status status, Clock::time_point now);
  void remember_image(const protocol::Sha256Digest& sha, const protocol::RecordId& record);
  bool is_open(SessionId id) const { return sessions_.facts(id).has_value(); }

  Sessions& sessions_;
  View& view_;
  indexer::Index& index_;
  const GossipOptions& options_;
  std::map<protocol::Sha256Digest, Fetch> fetches_;
  std::deque<Queued> queue_;
  std::map<protocol::Sha256Digest, Clock::time_point> failed_;  // until when not to try again
  std::uint64_t store_used_ = 0;
  std::optional<Clock::time_point> store_used_at_;
};

}  // namespace seedbank::node::gossip
