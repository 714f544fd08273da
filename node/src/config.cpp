#include "seedbank/node/config.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "civitai.h"
#include "seedbank/indexer/index.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

std::optional<std::string> NodeConfig::refuses(const p::Record& release, const indexer::Index& index) const {
  if (release.kind() != p::RecordKind::release) return "not a release";
  auto r = release.body().getPayload().getRelease();
  if (index.is_retracted(release.id())) return std::string("retracted by its author");
  if (index.is_denied(release, deny_curators)) return std::string("denied by a deny-list this node follows");
  if (!types.empty() && std::find(types.begin(), types.end(), static_cast<std::uint16_t>(r.getType())) == types.end())
    return "a " + std::string(p::model_type_name(r.getType())) + ", a type this node's policy leaves out";
  // The mark as its author's update sets it, if any.
  if (!nsfw && [&] {
        auto u = index.updated(release);
        return (u ? u->shown : release).body().getPayload().getRelease().getNsfw();
      }())
    return std::string("marked NSFW, which this node's policy leaves out");
  if (p::is_mirror(r) && mirrors == Mirrors::none) return std::string("a mirror, which this node's policy leaves out");
  if (p::is_mirror(r) && mirrors == Mirrors::followed &&
      std::find(followed.begin(), followed.end(), release.author()) == followed.end())
    return std::string("a mirror by a key this node does not follow, which its policy leaves out");
  if (index.voided(release)) return std::string("signed by a key its owner revoked, and not vouched for");
  return std::nullopt;
}

std::optional<std::string> NodeConfig::refuses_image(const p::Record& owner, const p::Sha256Digest& sha256,
                                                     const indexer::Index& index) const {
  auto same = [&](capnp::Data::Reader d) { return d.size() == 32 && std::memcmp(d.begin(), sha256.data(), 32) == 0; };
  bool image_nsfw = false;
  switch (owner.kind()) {
    case p::RecordKind::release: {
      if (auto why = refuses(owner, index)) return why;
      bool found = false;
      auto updated = index.updated(owner);  // its author's update may hide an image or raise its level
      const p::Record& shown = updated ? updated->shown : owner;
      for (auto img : shown.body().getPayload().getRelease().getImages())
        if (same(img.getSha256())) {
          found = true;
          image_nsfw = image_level(img, shown.body().getPayload().getRelease(), index) >= p::kR;
        }
      if (!found) return std::string("the release does not show this image");
      break;
    }
    case p::RecordKind::image_post: {
      auto post = owner.body().getPayload().getImagePost();
      if (!same(post.getImage().getSha256())) return std::string("the post does not name this image");
      image_nsfw = std::max(p::nsfw_level_of(post.getImage()), index.curated_level(sha256, deny_curators)) >= p::kR;
      if (post.getRelease().size() != 32) return std::string("a post about no release");
      auto release = index.get(digest_of(post.getRelease()));
      if (!release) return std::string("a post about a release this node does not know");
      if (auto why = refuses(*release, index)) return "a post about a release this node leaves out: " + *why;
      break;
    }
    case p::RecordKind::profile:
      if (!same(owner.body().getPayload().getProfile().getAvatar()))
        return std::string("the profile has another avatar");
      break;
    default:
      return std::string("records of this kind name no image");
  }
  if (!nsfw && image_nsfw) return std::string("marked NSFW, which this node's policy leaves out");
  if (index.is_denied(sha256, deny_curators, owner.author()))
    return std::string("denied by a deny-list this node follows");
  if (index.voided(owner)) return std::string("signed by a key its owner revoked, and not vouched for");
  return std::nullopt;
}

std::uint8_t NodeConfig::image_level(schema::SampleImage::Reader image, schema::Release::Reader release,
                                     const indexer::Index& index) const {
  auto level = p::nsfw_level_of(image, release);
  if (deny_curators.empty() || image.getSha256().size() != 32) return level;
  return std::max(level, index.curated_level(digest_of(image.getSha256()), deny_curators));
}

std::optional<std::string> NodeConfig::refuses_subject(const p::SubjectDraft& subject,
                                                       const indexer::Index& index) const {
  auto release = index.get(subject.release);
  if (!release || release->kind() != p::RecordKind::release)
    return std::string("no release with that id is known here");
  if (auto why = refuses(*release, index)) return why;
  if (subject.image) return refuses_image(*release, *subject.image, index);
  if (subject.post) {
    auto post = index.get(*subject.post);
    if (!post || post->kind() != p::RecordKind::image_post)
      return std::string("no image post with that id is known here");
    auto named = post->body().getPayload().getImagePost().getRelease();
    if (named.size() != 32 || digest_of(named) != subject.release)
      return std::string("the post is about another release");
    auto img = post->body().getPayload().getImagePost().getImage().getSha256();
    if (img.size() != 32) return std::string("the post has no image");
    return refuses_image(*post, digest_of(img), index);
  }
  return std::nullopt;
}

std::optional<std::string> NodeConfig::refuses_comment(const p::Record& comment, const indexer::Index& index) const {
  if (comment.kind() != p::RecordKind::comment) return std::string("not a comment");
  if (index.is_denied(comment.id(), deny_curators, comment.author()))
    return std::string("denied by a deny-list this node follows");
  if (index.voided(comment)) return std::string("signed by a key its owner revoked, and not vouched for");
  return std::nullopt;
}

p::Result<NodeConfig> load_node_config(const std::filesystem::path& path) {
  NodeConfig config;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return config;
    return p::make_error(p::ErrorCode::io, path.string() + ": cannot be read");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  auto bad = [&](const std::string& what) {
    return p::make_error(p::ErrorCode::invalid_argument,
                         path.string() + ": " + what + "; see docs/user-guide.md, \"Trust and moderation\"");
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "denyListCurators") {
      if (!value.is_array()) return bad("denyListCurators must be a list of keys (sbpk1...)");
      for (const auto& k : value) {
        auto pk = k.is_string() ? p::PublicKey::from_text(k.get<std::string>()) : std::nullopt;
        if (!pk) return bad("denyListCurators: " + k.dump() + " is not a public key (sbpk1...)");
        config.deny_curators.push_back(*pk);
      }
    } else if (key == "policy") {
      if (!value.is_object()) return bad("policy must be an object {\"types\": [...], \"nsfw\": true|false}");
      for (const auto& [pkey, pvalue] : value.items()) {
        if (pkey == "types") {
          if (!pvalue.is_array()) return bad("policy.types must be a list of model types");
          for (const auto& t : pvalue) {
            auto type = t.is_string() ? p::parse_model_type(t.get<std::string>()) : std::nullopt;
            if (!type) return bad("policy.types: " + t.dump() + " is not a model type (Checkpoint, LORA, ...)");
            config.types.push_back(static_cast<std::uint16_t>(*type));
          }
        } else if (pkey == "nsfw") {
          if (!pvalue.is_boolean()) return bad("policy.nsfw must be true or false");
          config.nsfw = pvalue.get<bool>();
        } else if (pkey == "mirrors") {
          std::string v = pvalue.is_string() ? pvalue.get<std::string>() : "";
          if (v == "all")
            config.mirrors = NodeConfig::Mirrors::all;
          else if (v == "none")
            config.mirrors = NodeConfig::Mirrors::none;
          else if (v == "followed")
            config.mirrors = NodeConfig::Mirrors::followed;
          else
            return bad("policy.mirrors must be \"all\", \"none\" or \"followed\"");
        } else {
          return bad("policy has no key '" + pkey + "' (types, nsfw, mirrors)");
        }
      }
    } else if (key == "spam") {
      if (!value.is_object())
        return bad("spam must be an object such as {\"newKeyWorkBits\": N, \"perAuthorPerHour\": N}");
      for (const auto& [skey, svalue] : value.items()) {
        if (!svalue.is_number_unsigned() || svalue.get<std::uint64_t>() > 0xffffffffu)
          return bad("spam." + skey + " must be a whole number");
        if (skey == "newKeyWorkBits" || skey == "socialWorkBits") {
          if (svalue.get<std::uint64_t>() > 32)
            return bad("spam." + skey + " above 32 would make such records useless");
          (skey == "newKeyWorkBits" ? config.new_key_work_bits : config.social_work_bits) = svalue.get<std::uint32_t>();
        } else if (skey == "perAuthorPerHour") {
          config.per_author_per_hour = svalue.get<std::uint32_t>();
        } else if (skey == "socialPerHour") {
          config.social_per_hour = svalue.get<std::uint32_t>();
        } else {
          return bad("spam has no key '" + skey +
                     "' (newKeyWorkBits, perAuthorPerHour, socialWorkBits, socialPerHour)");
        }
      }
    } else if (key == "storeQuota") {
      if (!value.is_number_unsigned()) return bad("storeQuota must be a number of bytes");
      config.store_quota = value.get<std::uint64_t>();
    } else if (key == "indexSize") {
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() < kMinIndexSize ||
          value.get<std::uint64_t>() > kMaxIndexSize)
        return bad("indexSize must be a number of bytes, from " + std::to_string(kMinIndexSize) + " (1 MiB) to " +
                   std::to_string(kMaxIndexSize) + " (64 TiB)");
      config.index_size = value.get<std::uint64_t>();
    } else {
      return bad("unknown key '" + key + "' (denyListCurators, policy, storeQuota, indexSize, spam)");
    }
  }
  return config;
}

}  // namespace seedbank::node
