// Helpers that build real signed records for tests and benchmarks.
#pragma once

#include <openssl/evp.h>
#include <sodium.h>

#include <chrono>
#include <cstring>
#include <string>

#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/release.h"

namespace seedbank::testing {

inline std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// SHA-256 of (seed, salt): unrelated digests for distinct arguments.
inline protocol::Sha256Digest fake_digest(std::uint64_t seed, std::uint8_t salt) {
  std::uint8_t in[9];
  std::memcpy(in, &seed, 8);
  in[8] = salt;
  protocol::Sha256Digest d{};
  crypto_hash_sha256(d.data(), in, sizeof in);
  return d;
}

// A plausible release draft; `n` makes its hashes and name unique.
inline protocol::ReleaseDraft sample_release(std::uint64_t n, schema::ModelType type = schema::ModelType::LORA,
                                             std::string base_model = "SDXL 1.0") {
  protocol::ReleaseDraft d;
  d.model_name = "Detail Tweaker " + std::to_string(n);
  d.version_name = "v1.0";
  d.type = type;
  d.base_model = std::move(base_model);
  d.description = "Adds detail. Release number " + std::to_string(n) + ".";
  d.tags = {"detail", "style", "tag" + std::to_string(n % 50)};
  d.trigger_words = {"add_detail"};
  d.license_name = "CreativeML OpenRAIL-M";
  d.allow_commercial_use = {schema::CommercialUse::IMAGE, schema::CommercialUse::RENT};
  protocol::ReleaseFile f;
  f.name = "detail_tweaker_" + std::to_string(n) + ".safetensors";
  f.size = 151000000 + n;
  f.primary = true;
  f.precision = schema::Precision::FP16;
  f.sha256 = fake_digest(n, 1);
  f.autov1 = fake_digest(n, 2);
  f.autov3 = fake_digest(n, 3);
  f.crc32 = static_cast<std::uint32_t>(n * 2654435761u);
  f.pieces_root = fake_digest(n, 4);
  d.files.push_back(f);
  protocol::ReleaseImage img;
  img.name = "sample_" + std::to_string(n) + ".png";
  img.sha256 = fake_digest(n, 5);
  img.size = 1234567;
  img.width = 832;
  img.height = 1216;
  img.mime_type = "image/png";
  d.images.push_back(img);
  // A stand-in info dictionary; the info-hashes must be its digests.
  std::string info = "d4:name" + std::to_string(std::to_string(n).size()) + ":" + std::to_string(n) + "e";
  d.torrent_info.assign(info.begin(), info.end());
  crypto_hash_sha256(d.info_hash_v2.data(), d.torrent_info.data(), d.torrent_info.size());
  protocol::Sha1Digest h1{};
  unsigned int len = 0;
  EVP_Digest(d.torrent_info.data(), d.torrent_info.size(), h1.data(), &len, EVP_sha1(), nullptr);
  d.info_hash_v1 = h1;
  return d;
}

// Test records carry the work stamp nodes ask of new keys by default (see
// GossipOptions::admission), so they gossip like records users sign.
inline constexpr std::uint32_t kTestWorkBits = 10;

// A time near `t` at which `key`'s records without a stamp (nonce 0)
// happen to fall short of `bits` (1 in 2^bits times they would not).
inline std::uint64_t unstamped_time(const protocol::SecretKey& key, std::uint64_t t, std::uint32_t bits) {
  while (protocol::work_bits(key.public_key(), t, 0) >= bits) --t;
  return t;
}

inline protocol::Bytes sign_release(const protocol::SecretKey& key, const protocol::ReleaseDraft& draft,
                                    std::uint64_t created_at, std::string_view network = "test",
                                    std::uint32_t work_bits = kTestWorkBits) {
  auto bytes = protocol::sign_record(
      key, network, created_at, [&](schema::RecordBody::Builder body) { protocol::fill_release(draft, body); },
      work_bits);
  return std::move(bytes).value();
}

// `n` releases of one key made for the test run, dated `first` ... seconds
// back: records to import on a node and watch spread.
inline std::vector<protocol::Bytes> sample_releases(std::uint64_t first, std::size_t n) {
  static const protocol::SecretKey key = protocol::SecretKey::generate();
  std::vector<protocol::Bytes> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(sign_release(key, sample_release(first + i), now_ms() - 1000 * (first + i)));
  return out;
}

inline protocol::Bytes sign_rating(const protocol::SecretKey& key, const protocol::RecordId& release,
                                   std::uint8_t stars, std::uint64_t created_at, std::string_view network = "test",
                                   std::uint32_t work_bits = kTestWorkBits) {
  auto bytes = protocol::sign_record(
      key, network, created_at,
      [&](schema::RecordBody::Builder body) {
        auto r = body.initPayload().initRating();
        r.setRelease(capnp::Data::Reader(release.data(), release.size()));
        r.setStars(stars);
        r.setReview("review " + std::to_string(stars));
      },
      work_bits);
  return std::move(bytes).value();
}

// A user's post of an image (`image`, 1000 bytes, 64x64 PNG) made with
// `release`, with the generation data that made it when given.
inline protocol::Bytes sign_post(const protocol::SecretKey& key, const protocol::RecordId& release,
                                 const protocol::Sha256Digest& image, std::uint64_t created_at,
                                 std::string_view network = "test", std::uint32_t work_bits = 0,
                                 std::string_view caption = {},
                                 const protocol::GenerationParams* generation = nullptr) {
  auto bytes = protocol::sign_record(
      key, network, created_at,
      [&](schema::RecordBody::Builder body) {
        auto post = body.initPayload().initImagePost();
        post.setRelease(capnp::Data::Reader(release.data(), 32));
        post.setCaption(std::string(caption));
        auto img = post.initImage();
        img.setName("made.png");
        img.setSha256(capnp::Data::Reader(image.data(), 32));
        img.setSize(1000);
        img.setWidth(64);
        img.setHeight(64);
        img.setMimeType("image/png");
        if (generation) protocol::fill_generation(*generation, img.initGeneration());
      },
      work_bits);
  return std::move(bytes).value();
}

// A reaction or comment signed at `created_at` (drafts as the CLI builds them).
inline protocol::Bytes sign_social(const protocol::SecretKey& key, const protocol::CommunityDraft& draft,
                                   std::uint64_t created_at, std::uint32_t work_bits = kTestWorkBits) {
  return protocol::sign_draft(key, "test", created_at, draft, work_bits).value();
}
inline protocol::Bytes sign_reaction(const protocol::SecretKey& key, const protocol::SubjectDraft& subject,
                                     protocol::ReactionKind kind, std::uint64_t created_at,
                                     std::uint32_t work_bits = kTestWorkBits) {
  return sign_social(key, protocol::ReactionDraft{subject, kind}, created_at, work_bits);
}

}  // namespace seedbank::testing
