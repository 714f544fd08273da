#include "torrent_builder.h"

#include <openssl/evp.h>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hex.hpp>
#include <libtorrent/torrent_info.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "seedbank/node/torrents.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {
namespace {

using protocol::ErrorCode;
using protocol::make_error;

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, const protocol::Bytes& data) {
  std::array<std::uint8_t, N> out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr);
  return out;
}

}  // namespace

std::uint64_t choose_piece_size(std::uint64_t total) {
  std::uint64_t piece = 256 * 1024;
  while (piece < 16 * 1024 * 1024 && total / piece > 1000) piece *= 2;
  return piece;
}

protocol::Result<BuiltTorrent> build_torrent(const std::string& name, const std::vector<TorrentInput>& files,
                                             std::uint64_t piece_size, bool v2_only) {
  if (files.empty()) return make_error(ErrorCode::invalid_argument, "a torrent needs at least one file");
  try {
    lt::file_storage fs;
    std::map<std::string, const protocol::FileDigests*> by_path;
    for (const auto& f : files) {
      std::string path = name + "/" + f.path;
      if (!by_path.emplace(path, f.digests).second)
        return make_error(ErrorCode::invalid_argument, "two files would both be '" + f.path + "' in the torrent");
      if (f.digests->size == 0)
        return make_error(ErrorCode::invalid_argument, f.path + ": the file is empty; there is nothing to share");
      fs.add_file(path, static_cast<std::int64_t>(f.digests->size));
    }
    lt::create_torrent ct(fs, static_cast<int>(piece_size),
                          v2_only ? lt::create_torrent::v2_only : lt::create_flags_t{});
    ct.set_creation_date(0);
    const auto& layout = ct.files();
    for (auto i : layout.file_range()) {
      if (layout.pad_file_at(i)) continue;
      auto it = by_path.find(layout.file_path(i));
      if (it == by_path.end())
        return make_error(ErrorCode::internal, "torrent layout lost file " + layout.file_path(i));
      const protocol::FileDigests& d = *it->second;
      if (!v2_only) {
        if (d.v1_pieces.empty())
          return make_error(ErrorCode::internal, layout.file_path(i) + ": v1 piece hashes were not computed");
        auto first = static_cast<int>(layout.file_offset(i) / static_cast<std::int64_t>(piece_size));
        for (std::size_t k = 0; k < d.v1_pieces.size(); ++k) {
          lt::sha1_hash h;
          std::memcpy(h.data(), d.v1_pieces[k].data(), 20);
          ct.set_hash(lt::piece_index_t(first + static_cast<int>(k)), h);
        }
      }
      if (d.piece_layer.empty()) {
        lt::sha256_hash root;
        std::memcpy(root.data(), d.pieces_root->data(), 32);
        ct.set_hash2(i, lt::piece_index_t::diff_type(0), root);
      } else {
        for (std::size_t k = 0; k < d.piece_layer.size(); ++k) {
          lt::sha256_hash h;
          std::memcpy(h.data(), d.piece_layer[k].data(), 32);
          ct.set_hash2(i, lt::piece_index_t::diff_type(static_cast<int>(k)), h);
        }
      }
    }
    lt::entry torrent = ct.generate();
    BuiltTorrent out;
    out.piece_size = piece_size;
    lt::bencode(std::back_inserter(out.info), torrent["info"]);
    if (auto* layers = torrent.find_key("piece layers"); layers && !layers->dict().empty())
      lt::bencode(std::back_inserter(out.piece_layers), *layers);
    out.info_hash_v2 = digest<32>(EVP_sha256(), out.info);
    if (!v2_only) out.info_hash_v1 = digest<20>(EVP_sha1(), out.info);

    // Self-check: libtorrent must load what we made and agree on the hashes.
    protocol::Bytes whole;
    lt::bencode(std::back_inserter(whole), torrent);
    lt::error_code ec;
    lt::torrent_info ti(reinterpret_cast<const char*>(whole.data()), static_cast<int>(whole.size()), ec);
    if (ec) return make_error(ErrorCode::internal, "the generated torrent does not load: " + ec.message());
    if (std::memcmp(ti.info_hashes().v2.data(), out.info_hash_v2.data(), 32) != 0)
      return make_error(ErrorCode::internal, "the generated torrent's v2 info-hash does not match");
    return out;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::internal, std::string("building the torrent failed: ") + e.what());
  }
}

std::string magnet_link(const std::optional<protocol::Sha256Digest>& v2, const std::optional<protocol::Sha1Digest>& v1,
                        const std::string& name, const std::vector<std::string>& trackers) {
  std::string m = "magnet:?";
  if (v1) m += "xt=urn:btih:" + protocol::to_hex(*v1) + "&";
  if (v2) m += "xt=urn:btmh:1220" + protocol::to_hex(*v2) + "&";
  m += "dn=" + url_encode(name);
  for (const auto& t : trackers) m += "&tr=" + url_encode(t);
  return m;
}

protocol::Result<CompatTorrent> v1_compat_info(schema::Release::Reader release) {
  auto t = release.getTorrent();
  if (t.getInfoHashV1().size() == 0)
    return make_error(ErrorCode::invalid_argument,
                      "this release's torrent is v2-only, so it has no v1 form; v1-only clients cannot fetch it "
                      "(its creator can publish without --v2-only)");
  lt::error_code ec;
  auto node =
      lt::bdecode({reinterpret_cast<const char*>(t.getInfo().begin()), static_cast<long>(t.getInfo().size())}, ec);
  if (ec || node.type() != lt::bdecode_node::dict_t)
    return make_error(ErrorCode::malformed, "the release's info dictionary does not decode: " + ec.message());
  lt::entry info(node);
  info.dict().erase("file tree");
  info.dict().erase("meta version");
  CompatTorrent out;
  lt::bencode(std::back_inserter(out.info), info);  // keys stay sorted: canonical bencoding
  out.info_hash = digest<20>(EVP_sha1(), out.info);
  return out;
}

protocol::Result<protocol::Bytes> torrent_file_for_clients(schema::Release::Reader release, bool v1_compat) {
  std::string whole = "d";
  auto trackers = release.getTorrent().getTrackers();
  if (trackers.size()) {
    auto bstr = [](std::string_view s) { return std::to_string(s.size()) + ":" + std::string(s); };
    whole += bstr("announce") + bstr(trackers[0].cStr()) + bstr("announce-list") + "l";
    for (auto tr : trackers) whole += "l" + bstr(tr.cStr()) + "e";
    whole += "e";
  }
  whole += "4:info";
  if (v1_compat) {
    auto compat = v1_compat_info(release);
    if (!compat) return compat.error();
    whole.append(compat->info.begin(), compat->info.end());
  } else {
    auto hybrid = torrent_file_of(release);  // "d4:info...e" with piece layers
    whole.append(hybrid.begin() + 7, hybrid.end() - 1);
  }
  whole += "e";
  return protocol::Bytes(whole.begin(), whole.end());
}

protocol::Result<std::string> magnet_of(schema::Release::Reader release, bool v1_compat) {
  auto t = release.getTorrent();
  std::vector<std::string> trackers;
  for (auto tr : t.getTrackers()) trackers.emplace_back(tr.cStr());
  lt::error_code ec;
  auto info =
      lt::bdecode({reinterpret_cast<const char*>(t.getInfo().begin()), static_cast<long>(t.getInfo().size())}, ec);
  std::string name = ec ? std::string() : std::string(info.dict_find_string_value("name"));
  if (!v1_compat) {
    auto v2 = protocol::util::digest_of(t.getInfoHashV2());
    std::optional<protocol::Sha1Digest> v1;
    if (t.getInfoHashV1().size() == 20) v1 = protocol::util::fixed_bytes<20>(t.getInfoHashV1());
    return magnet_link(v2, v1, name, trackers);
  }
  // Re-encoding the info dictionary (tens of KiB for a large file) is too
  // slow for every version of a listing: the v1-compat info-hash is kept,
  // keyed by the v2 info-hash (which record validation checks is the hash
  // of that same dictionary), for the releases asked about lately.
  static constexpr std::size_t kMaxCached = 16384;  // ~1 MiB
  static std::mutex mutex;
  static std::map<protocol::Sha256Digest, protocol::Sha1Digest> cache;
  auto v2 = protocol::util::digest_of(t.getInfoHashV2());
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(v2); it != cache.end()) return magnet_link(std::nullopt, it->second, name, trackers);
  }
  auto compat = v1_compat_info(release);
  if (!compat) return compat.error();
  {
    std::lock_guard lock(mutex);
    if (cache.size() >= kMaxCached) cache.clear();  // starts again: no eviction bookkeeping on the way
    cache.emplace(v2, compat->info_hash);
  }
  return magnet_link(std::nullopt, compat->info_hash, name, trackers);
}

}  // namespace seedbank::node
