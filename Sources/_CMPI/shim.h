// Open MPI (Debian: libopenmpi-dev), used only by StrataDistributed.
// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE... are macros over addresses of library
// globals (casts Swift cannot import): each gets a one-line getter.
#include <mpi.h>

static inline MPI_Comm strata_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm strata_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype strata_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype strata_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype strata_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op strata_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op strata_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op strata_mpi_min(void) { return MPI_MIN; }
static inline void *strata_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler strata_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request strata_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *strata_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int strata_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int strata_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
