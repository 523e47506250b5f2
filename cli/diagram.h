// Space-time diagram of a recorded run (`aasim run --svg`): one vertical lane per region,
// virtual time flowing down (long stretches without events compressed and marked), every
// step as a labelled mark on its row (commands on their region's lane with their reply,
// global steps across the lanes), every replication message as an arrow from its send to
// its delivery (lost ones end in a cross; retransmissions, full syncs, acks and probes
// drawn distinctly), partitions as hatched bands between lanes, crashed regions as dashed
// lanes, and every expectation's verdict in colour and in words. Runs of many messages
// draw bundles (one shape per link, kind and time band, with its count) instead of arrows.
//
// Every message shape carries class "msg" plus "arrow", "cross" or "inflight", and
// data-count (1, or the size of its bundle): arrows add up to the delivered (and
// discarded) messages, crosses to the dropped ones. Every step is a <g id="step-N">.
//
// Pure function of its inputs: the same run gives the same bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cluster_sim/runner.h"
#include "cluster_sim/xml.h"
#include "run_record.h"

namespace aasim {

struct DiagramOptions {
  bool standalone = true;    // an SVG file (XML prolog); false: an element to inline in HTML
  size_t bundle_over = 300;  // more messages than this: bundles instead of single arrows
};

std::string RenderDiagramSvg(const cluster_sim::RunReport& report, const RunRecord& record,
                             const DiagramOptions& options);

using cluster_sim::XmlEscape;  // the one escaping rule (cluster_sim/xml.h)

}  // namespace aasim
