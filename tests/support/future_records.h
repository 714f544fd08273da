// Records "from the future", for forward-compatibility tests: built with
// support/future_record.capnp (today's record schema plus a payload kind,
// a body field and a release field) and signed exactly as sign_record signs
// today's, so they are what a newer Seedbank would send.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <functional>
#include <string>
#include <string_view>

#include "seedbank/protocol/record.h"
#include "seedbank/protocol/release.h"
#include "support/future_record.capnp.h"
#include "support/test_records.h"

namespace seedbank::testing {

// The payload tag future_record.capnp gives `mirror`: one past today's kinds.
inline constexpr std::uint16_t kMirrorTag = 11;

// Ed25519 over kRecordDomain ++ canonical(body), as docs/protocol.md says;
// returns the canonical SignedRecord.
inline protocol::Bytes sign_future_record(const protocol::SecretKey& key, std::string_view network,
                                          std::uint64_t created_at,
                                          const std::function<void(future::RecordBody::Builder)>& fill,
                                          std::uint32_t work_bits = kTestWorkBits) {
  capnp::MallocMessageBuilder builder;
  auto body = builder.initRoot<future::RecordBody>();
  body.setAuthor(capnp::Data::Reader(key.public_key().bytes.data(), 32));
  body.setCreatedAt(created_at);
  body.setNetwork(std::string(network));
  fill(body);
  if (work_bits) body.setWorkNonce(protocol::find_work_nonce(key.public_key(), created_at, work_bits));
  auto canonical = capnp::canonicalize(body.asReader());
  auto domain = protocol::as_bytes(protocol::kRecordDomain);
  protocol::Bytes message(domain.begin(), domain.end());
  message.insert(message.end(), canonical.asBytes().begin(), canonical.asBytes().end());
  auto signature = key.sign(message);

  capnp::MallocMessageBuilder out;
  auto root = out.initRoot<future::SignedRecord>();
  root.setBody(body.asReader());
  root.setSignature(capnp::Data::Reader(signature.data(), signature.size()));
  auto words = capnp::canonicalize(root.asReader());
  auto bytes = words.asBytes();
  return protocol::Bytes(bytes.begin(), bytes.end());
}

// A record of a kind today's Seedbank does not know: a mirror of `release`.
inline protocol::Bytes sign_mirror(const protocol::SecretKey& key, const protocol::RecordId& release,
                                   std::uint64_t created_at, std::string_view network = "test",
                                   std::uint32_t work_bits = kTestWorkBits) {
  return sign_future_record(
      key, network, created_at,
      [&](future::RecordBody::Builder body) {
        auto m = body.getPayload().initMirror();
        m.setRelease(capnp::Data::Reader(release.data(), release.size()));
        m.setOrigin("civitai:modelVersion/12345");
        m.setNote("mirrored from the future");
      },
      work_bits);
}

// A release (a kind today's Seedbank knows) that also carries a body field
// and a release field it does not know.
inline protocol::Bytes sign_release_with_future_fields(const protocol::SecretKey& key,
                                                       const protocol::ReleaseDraft& draft, std::uint64_t created_at,
                                                       std::uint8_t nsfw_level, std::string_view topic,
                                                       std::string_view network = "test",
                                                       std::uint32_t work_bits = kTestWorkBits) {
  // Today's release, read back through the future schema (same layout).
  capnp::MallocMessageBuilder today;
  protocol::fill_release(draft, today.initRoot<schema::RecordBody>());
  auto words = capnp::canonicalize(today.getRoot<schema::RecordBody>().asReader());
  kj::ArrayPtr<const capnp::word> segment = words.asPtr();
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&segment, 1));
  auto release = reader.getRoot<future::RecordBody>().getPayload().getRelease();
  return sign_future_record(
      key, network, created_at,
      [&](future::RecordBody::Builder body) {
        body.getPayload().setRelease(release);
        body.getPayload().getRelease().setNsfwLevel(nsfw_level);
        body.setTopic(std::string(topic));
      },
      work_bits);
}

}  // namespace seedbank::testing
