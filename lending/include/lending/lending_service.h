// The lending service as a scenario service: `lending@A: request Salvatore ofmiceandmen`
// and friends (README, "The lending service"), plus the `lending-invariants` check. It runs, in
// every region, N LendingWorker instances (one consumer group, names "<region>-1", ...) and one
// ShelvingWorker, each over its own connection from the ServiceHost; after every step
// it lets them process everything there is, in a fixed round-robin order, so runs are
// deterministic. It keeps a Ledger of every loan and return across regions.
//
// Step grammar (text after `lending@REGION:`):
//   request USER BOOK[,BOOK...]    XADD to lending_requests_event_stream; outcome
//                                  ACCEPTED / DENIED, or PENDING if no instance finished it
//   return USER BOOK[,BOOK...]     XADD to book_return_requests_event_stream; PROCESSED
//   start N                        run N instances in the region (adds the missing ones)
//   crash INSTANCE after read | after reserve N | before commit
//                                  arm a crash: the instance dies there, leaving its entry
//                                  pending and its reservations in request:<id>:temp
//   restart INSTANCE               a crashed instance comes back under the same name and
//                                  resumes its pending entries first
// Single-threaded; one instance per run (made by NewLendingService).
#pragma once

#include <memory>

#include "cluster_sim/service.h"

namespace lending {

std::unique_ptr<cluster_sim::Service> NewLendingService();

}  // namespace lending
