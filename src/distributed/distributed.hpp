// The distributed executor (distributed_executor.cpp): one network over a grid of MPI ranks on
// ScaLAPACK. It needs MPI, which the library does not link, so it is a library of its own
// (rnnlyap_distributed), linked by the program, which registers it at start-up.
#pragma once

namespace rnnlyap::distributed {

/// Makes the distributed executor the library's (core/backends.hpp, register_distributed_backend).
void register_backend();

}  // namespace rnnlyap::distributed
