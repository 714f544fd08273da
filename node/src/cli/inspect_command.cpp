// seedbank inspect FILE [--json]  (filled in once the parsers land)
#include "cli.h"

namespace seedbank::node::cli {
void add_inspect_command(CLI::App&, Context&) {}
}  // namespace seedbank::node::cli
