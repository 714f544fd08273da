// Private to the torrent files: initial seeding for a node that holds a
// whole torrent. When a crowd starts fetching a new release together, each
// downloader asks the seed for the pieces rarest in its own view, which are
// the same for everyone (only the seed has them), and the seed uploads
// many pieces more than once before the crowd holds one copy. This plugin
// suggests (the fast extension's SUGGEST_PIECE) to each interested
// downloader a few pieces that no downloader has, is downloading from this
// node or was offered, and a new one as each is asked for or arrives; when
// none is left, those fewest downloaders have, preferring what the one
// nearest the end lacks. libtorrent's piece picker asks for suggested
// pieces before the rarest. The seed keeps advertising and serving every
// piece (unlike libtorrent's super-seeding, which hides the seed's pieces,
// slows a lone downloader, and in 2.0.8 leaves each new peer idle for 10 s:
// its first offers fall in the handshake, where nothing is sent).
#pragma once

#include <libtorrent/extensions.hpp>

#include <memory>

namespace seedbank::node {

// For add_torrent_params::extensions of a torrent this node holds whole
// (`pieces` pieces).
std::shared_ptr<lt::torrent_plugin> spread_pieces_plugin(int pieces);

}  // namespace seedbank::node
