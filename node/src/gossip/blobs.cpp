#include "gossip/blobs.h"

#include <unistd.h>

#include <cstring>
#include <fstream>

#include "files.h"
#include "gossip/limits.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node::gossip {

namespace p = seedbank::protocol;
using p::ErrorCode;
using p::make_error;

// Why this node will not fetch or serve image `sha` of `owner`, or nullopt.
std::optional<std::string> Blobs::refused(const p::Sha256Digest& sha, const p::Record& owner) const {
  if (!options_.store || !options_.image_policy) return std::string("this node keeps no images from peers");
  return options_.image_policy(owner, sha);
}

bool Blobs::over_quota(std::uint64_t extra, Clock::time_point now) {
  if (!options_.store_quota) return false;
  if (!store_used_at_ || now - *store_used_at_ > std::chrono::minutes(1)) {
    store_used_ = options_.store->used_bytes();
    store_used_at_ = now;
  }
  return store_used_ + extra > options_.store_quota;
}

bool Blobs::want(const p::Sha256Digest& sha, const p::RecordId& record, SessionId exclude,
                 std::function<void(p::Status)> done, Clock::time_point now) {
  auto fail = [&](ErrorCode code, const std::string& why) {
    if (done) sessions_.defer([done, e = make_error(code, "image " + p::to_hex(sha) + ": " + why)] { done(e); });
    return false;
  };
  if (options_.store && options_.store->contains(sha)) {
    if (done) sessions_.defer([done] { done(p::Status{}); });
    return false;
  }
  auto owner = index_.get(record);
  if (!owner) return fail(ErrorCode::not_found, "the record naming it is not known here");
  if (auto why = refused(sha, *owner)) return fail(ErrorCode::refused, *why);
  remember_image(sha, record);
  if (auto it = fetches_.find(sha); it != fetches_.end()) {
    if (done) it->second.done.push_back(std::move(done));
    return true;
  }
  std::size_t by_author = 0;
  for (auto& q : queue_) {
    if (q.sha == sha) {
      if (done) q.done.push_back(std::move(done));
      return true;
    }
    by_author += q.author == owner->author();
  }
  for (const auto& [other, f] : fetches_) by_author += f.author == owner->author();
  if (auto it = failed_.find(sha); it != failed_.end()) {
    if (now < it->second) return fail(ErrorCode::not_found, "no peer had it a moment ago; try again in half a minute");
    failed_.erase(it);
  }
  if (over_quota(0, now))
    return fail(ErrorCode::limit, "the store is at its quota of " + std::to_string(options_.store_quota) + " bytes");
  // One author's images cannot crowd out everyone else's.
  if (by_author >= kMaxBlobsPerAuthor)
    return fail(ErrorCode::limit, "this node is already fetching " + std::to_string(by_author) + " images of " +
                                      owner->author().to_text() + "; try again later");
  if (fetches_.size() >= kMaxBlobFetches && queue_.size() >= kMaxBlobQueue)
    return fail(ErrorCode::limit, "too many images are waiting to be fetched; try again later");
  Queued q{sha, record, owner->author(), exclude, {}};
  if (done) q.done.push_back(std::move(done));
  view_.fetching(sha, true);
  if (fetches_.size() >= kMaxBlobFetches) {
    queue_.push_back(std::move(q));
    return true;
  }
  start(std::move(q), now);
  return fetches_.count(sha) > 0;  // not when no peer could be asked
}

void Blobs::start(Queued q, Clock::time_point now) {
  auto& f = fetches_[q.sha];
  f.record = q.record;
  f.author = q.author;
  f.exclude = q.exclude;
  f.done = std::move(q.done);
  f.started = now;
  next_peer(q.sha, now);
}

// Asks the next peer not asked yet; once all were, waits and asks again
// while any said it is fetching the image itself.
void Blobs::next_peer(const p::Sha256Digest& sha, Clock::time_point now) {
  auto it = fetches_.find(sha);
  if (it == fetches_.end()) return;
  auto& f = it->second;
  f.asking = kNoSession;
  f.data.clear();  // bytes from one peer are never mixed with another's
  f.size = 0;
  f.deadline.reset();
  for (const auto& s : sessions_.open_sessions()) {
    if (s.id == f.exclude || !f.tried.insert(s.id).second) continue;
    f.asking = s.id;
    ask(s.id, sha, f, now);
    return;
  }
  if (f.any_later && now - f.started < kBlobPatience) {
    f.any_later = false;
    f.tried.clear();
    retry_later(sha, kNoSession, now);
    return;
  }
  finish(sha,
         make_error(ErrorCode::not_found,
                    "no peer had the image " + p::to_hex(sha) +
                        (f.rounds ? " after " + std::to_string(f.rounds + 1) + " rounds of asking" : std::string())),
         now);
}

// In kBlobRetry: asks `same` again from where it left off (it said it was
// busy), or, without one, starts another round over every peer.
void Blobs::retry_later(const p::Sha256Digest& sha, SessionId same, Clock::time_point now) {
  auto& f = fetches_.at(sha);
  ++f.rounds;
  f.asking = same;
  f.deadline = now + kBlobRetry;
  f.retry = true;
  sessions_.wake_at(*f.deadline);
}

void Blobs::ask(SessionId id, const p::Sha256Digest& sha, Fetch& f, Clock::time_point now) {
  capnp::MallocMessageBuilder m;
  auto want = m.initRoot<schema::GossipMessage>().initWantBlob();
  want.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
  want.setRecord(capnp::Data::Reader(f.record.data(), f.record.size()));
  want.setOffset(f.data.size());
  f.deadline = now + kBlobAnswerTimeout;
  f.retry = false;
  sessions_.wake_at(*f.deadline);
  sessions_.send(id, m);
}

std::optional<Clock::time_point> Blobs::on_deadline(Clock::time_point now) {
  std::vector<p::Sha256Digest> due;
  for (const auto& [sha, f] : fetches_)
    if (f.deadline && *f.deadline <= now) due.push_back(sha);
  for (const auto& sha : due) {
    auto it = fetches_.find(sha);
    if (it == fetches_.end() || !it->second.deadline || *it->second.deadline > now) continue;
    auto& f = it->second;
    f.deadline.reset();
    if (f.retry && f.asking != kNoSession && is_open(f.asking)) {
      ask(f.asking, sha, f, now);
      continue;
    }
    next_peer(sha, now);  // no answer in time, or a new round
  }
  std::optional<Clock::time_point> next;
  for (const auto& [sha, f] : fetches_)
    if (f.deadline && (!next || *f.deadline < *next)) next = f.deadline;
  return next;
}

void Blobs::closed(SessionId id, Clock::time_point now) {
  for (auto& q : queue_)
    if (q.exclude == id) q.exclude = kNoSession;
  for (auto& [sha, f] : fetches_) {
    f.tried.erase(id);
    if (f.exclude == id) f.exclude = kNoSession;
  }
  for (const auto& [sha, f] : fetches_)
    if (f.asking == id)
      sessions_.defer([this, sha = sha, id, now] {
        if (auto it = fetches_.find(sha); it != fetches_.end() && it->second.asking == id) next_peer(sha, now);
      });
}

void Blobs::on_blob(SessionId id, schema::Blob::Reader b, Clock::time_point now) {
  if (b.getSha256().size() != 32 || b.getData().size() > kBlobChunk) return sessions_.close(id, "malformed blob", true);
  auto sha = p::util::digest_of(b.getSha256());
  auto it = fetches_.find(sha);
  if (it == fetches_.end() || it->second.asking != id) return;  // late, or never asked: ignored
  auto& f = it->second;
  // An answer to an earlier request (one that timed out, then was asked
  // again) is ignored, not held against the peer.
  if (b.getOffset() != f.data.size()) return;
  if (b.getStatus() != schema::BlobStatus::OK) {
    if (b.getStatus() == schema::BlobStatus::LATER) {
      f.any_later = true;
      // Busy in the middle of the file: ask it again for the rest.
      if (!f.data.empty() && now - f.started < kBlobPatience) return retry_later(sha, id, now);
    }
    return next_peer(sha, now);
  }
  auto size = b.getSize(), offset = b.getOffset();
  auto n = b.getData().size();
  if (size > kMaxBlobBytes || (f.size && size != f.size) || offset + n > size || (n == 0 && offset < size))
    return sessions_.close(id, "sent a part of an image that does not fit what was asked", true);
  if (!f.size && over_quota(size, now))
    return finish(sha,
                  make_error(ErrorCode::limit, "image " + p::to_hex(sha) + " (" + std::to_string(size) +
                                                   " bytes) would take the store over its quota"),
                  now);
  f.size = size;
  f.found = true;
  f.data.insert(f.data.end(), b.getData().begin(), b.getData().end());
  if (f.data.size() < size) return ask(id, sha, f, now);
  p::Sha256Stream h;
  h.update(f.data);
  if (h.finish() != sha) return sessions_.close(id, "sent an image whose bytes do not match its SHA-256", true);
  finish(sha, save(sha, f.data), now);
}

p::Status Blobs::save(const p::Sha256Digest& sha, const p::Bytes& data) {
  auto tmp = HeldTemp::beside(options_.store->root() / "tmp" / "image");
  if (!tmp) return tmp.error();
  auto st = tmp->write_all(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  if (st && ::fsync(tmp->fd()) != 0) st = p::make_error(p::ErrorCode::io, "cannot write an image to the store");
  if (!st) return st;
  auto added = options_.store->add(tmp->path(), sha, ContentStore::AddMode::hardlink);
  if (!added) return added.error();
  store_used_ += data.size();
  return {};
}

void Blobs::finish(const p::Sha256Digest& sha, p::Status status, Clock::time_point now) {
  auto node = fetches_.extract(sha);
  if (node.empty()) return;
  if (!status) {
    if (failed_.size() > 10000) std::erase_if(failed_, [&](const auto& e) { return e.second < now; });
    failed_[sha] = now + kBlobFailedFor;
  }
  view_.fetching(sha, false);
  if (status) view_.forget_image(sha);
  for (auto& d : node.mapped().done) d(status);
  while (fetches_.size() < kMaxBlobFetches && !queue_.empty()) {
    auto q = std::move(queue_.front());
    queue_.pop_front();
    if (options_.store->contains(q.sha)) {
      view_.fetching(q.sha, false);
      for (auto& d : q.done) d(p::Status{});
      continue;
    }
    start(std::move(q), now);
  }
}

// Answers a peer's wantBlob: a chunk from the store; "later" while this
// node's own fetch of it is young or getting bytes, or it is busy;
// "unknown" otherwise (so an image nobody has is given up on quickly).
void Blobs::on_want_blob(SessionId id, schema::WantBlob::Reader w, Clock::time_point now) {
  if (w.getSha256().size() != 32 || w.getRecord().size() != 32) return sessions_.close(id, "malformed wantBlob", true);
  auto sha = p::util::digest_of(w.getSha256());
  auto record = p::util::digest_of(w.getRecord());
  auto offset = w.getOffset();
  capnp::MallocMessageBuilder m;
  auto reply = m.initRoot<schema::GossipMessage>().initBlob();
  reply.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
  reply.setOffset(offset);
  reply.setStatus(schema::BlobStatus::UNKNOWN);
  if (!options_.store || !options_.image_policy) return sessions_.send(id, m);
  if (!options_.store->contains(sha)) {
    want(sha, record, id, {}, now);
    auto it = fetches_.find(sha);
    if (it != fetches_.end() && (it->second.found || now - it->second.started < kBlobGrace))
      reply.setStatus(schema::BlobStatus::LATER);
    return sessions_.send(id, m);
  }
  auto owner = index_.get(record);
  if (!owner || refused(sha, *owner)) return sessions_.send(id, m);
  auto facts = sessions_.facts(id);
  if (!facts) return;
  if (facts->queued > kQueueLow) {
    reply.setStatus(schema::BlobStatus::LATER);
    return sessions_.send(id, m);
  }
  auto path = options_.store->path_of(sha);
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxBlobBytes || offset > size) return sessions_.send(id, m);
  p::Bytes chunk(static_cast<std::size_t>(std::min<std::uint64_t>(kBlobChunk, size - offset)));
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
  if (!in) return sessions_.send(id, m);
  reply.setStatus(schema::BlobStatus::OK);
  reply.setSize(size);
  reply.setData(capnp::Data::Reader(chunk.data(), chunk.size()));
  sessions_.send(id, m);
}

// Images records name, remembered so the HTTP side can fetch one that is
// asked for later (an avatar, a post image dropped from a full queue).
void Blobs::remember_image(const p::Sha256Digest& sha, const p::RecordId& record) {
  view_.name_image(sha, record, kMaxKnownImages);
}

void Blobs::fetch_image_of(const p::Record& rec, Clock::time_point now) {
  if (!options_.store || !options_.image_policy) return;
  p::Sha256Digest sha{};
  if (rec.kind() == p::RecordKind::image_post) {
    auto img = rec.body().getPayload().getImagePost().getImage();
    if (img.getSha256().size() != 32 || img.getSize() > kMaxBlobBytes) return;
    sha = p::util::digest_of(img.getSha256());
  } else if (rec.kind() == p::RecordKind::profile) {
    auto avatar = rec.body().getPayload().getProfile().getAvatar();
    if (avatar.size() != 32) return;
    sha = p::util::digest_of(avatar);
  } else {
    return;
  }
  if (!options_.store->contains(sha)) want(sha, rec.id(), kNoSession, {}, now);
}

}  // namespace seedbank::node::gossip
