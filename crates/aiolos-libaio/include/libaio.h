/*
 * libaio.h -- the C interface of aiolos's libaio.so.1.
 *
 * Source-compatible with the libaio interface (0.3.113): the same types, structures,
 * padding macros, functions and inline helpers, so programs written for libaio build and
 * run unchanged. The structures are the kernel's <linux/aio_abi.h> layouts: struct iocb is
 * 64 bytes and struct io_event 32 bytes on every ABI, whatever _FILE_OFFSET_BITS says.
 *
 * Functions return 0 or a count on success and a negated errno on failure; errno is never
 * changed.
 *
 * Part of aiolos. License: MIT OR Apache-2.0.
 */
#ifndef __LIBAIO_H
#define __LIBAIO_H

#include <stddef.h>
#include <string.h>
#include <signal.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct timespec;
struct sockaddr;
struct iovec;

/* sigset_t is only declared by <signal.h> in POSIX modes; strict ISO C modes of glibc still
 * have its underlying type. */
#if defined(__GLIBC__) && !defined(__sigset_t_defined)
#include <bits/types/__sigset_t.h>
typedef __sigset_t __aiolos_sigset_t;
#else
typedef sigset_t __aiolos_sigset_t;
#endif

/* The helpers below are "static inline"; C89 compilers know inline only as an extension. */
#if defined(__cplusplus) || defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L
#  define __AIOLOS_INLINE inline
#elif defined(__GNUC__)
#  define __AIOLOS_INLINE __inline__
#else
#  define __AIOLOS_INLINE
#endif

/* ISO C has no conversion between function and object pointers; every Linux ABI does. */
#if defined(__GNUC__)
#  define __AIOLOS_FN_TO_PTR(f) (__extension__ (void *)(f))
#else
#  define __AIOLOS_FN_TO_PTR(f) ((void *)(f))
#endif

/* A context: the address of its completion ring (struct aio_ring in the kernel). */
typedef struct io_context *io_context_t;

/* Request kinds (aio_lio_opcode); 4 is unused, as in the kernel. */
typedef enum io_iocb_cmd {
	IO_CMD_PREAD = 0,
	IO_CMD_PWRITE = 1,
	IO_CMD_FSYNC = 2,
	IO_CMD_FDSYNC = 3,
	IO_CMD_POLL = 5,
	IO_CMD_NOOP = 6,
	IO_CMD_PREADV = 7,
	IO_CMD_PWRITEV = 8
} io_iocb_cmd_t;

/*
 * Padding that gives pointers and longs 64 bits of room on 32-bit ABIs, and puts each
 * 32-bit pair in the kernel's order on big-endian ones:
 *   PADDED(x, y)     two 32-bit fields, x first in memory on little-endian ABIs;
 *   PADDEDptr(x, y)  a pointer in a 64-bit slot;
 *   PADDEDul(x, y)   an unsigned long x in a 64-bit slot.
 */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && defined(__SIZEOF_LONG__)
#  if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#    define __AIOLOS_LE 1
#  else
#    define __AIOLOS_LE 0
#  endif
#  define __AIOLOS_LONG_BYTES __SIZEOF_LONG__
#elif defined(__x86_64__) && !defined(__ILP32__) || defined(__aarch64__) && !defined(__AARCH64EB__) || \
	defined(__ia64__) || defined(__alpha__) || defined(__loongarch64)
#  define __AIOLOS_LE 1
#  define __AIOLOS_LONG_BYTES 8
#elif defined(__i386__) || defined(__x86_64__) || defined(__arm__) && !defined(__ARMEB__)
#  define __AIOLOS_LE 1
#  define __AIOLOS_LONG_BYTES 4
#elif defined(__powerpc64__) || defined(__s390x__) || defined(__aarch64__)
#  define __AIOLOS_LE 0
#  define __AIOLOS_LONG_BYTES 8
#elif defined(__PPC__) || defined(__s390__) || defined(__arm__) || defined(__m68k__)
#  define __AIOLOS_LE 0
#  define __AIOLOS_LONG_BYTES 4
#else
#  error "libaio.h: cannot tell this ABI's byte order and long size"
#endif

#if __AIOLOS_LE && __AIOLOS_LONG_BYTES == 8
#  define PADDED(x, y)		x, y
#  define PADDEDptr(x, y)	x
#  define PADDEDul(x, y)	unsigned long x
#elif __AIOLOS_LE
#  define PADDED(x, y)		x; unsigned y
#  define PADDEDptr(x, y)	x; unsigned y
#  define PADDEDul(x, y)	unsigned long x; unsigned y
#elif __AIOLOS_LONG_BYTES == 8
#  define PADDED(x, y)		unsigned y; x
#  define PADDEDptr(x, y)	x
#  define PADDEDul(x, y)	unsigned long x
#else
#  define PADDED(x, y)		unsigned y; x
#  define PADDEDptr(x, y)	unsigned y; x
#  define PADDEDul(x, y)	unsigned y; unsigned long x
#endif

/* IO_CMD_POLL: the poll events to wait for. The result is the events that fired. */
struct io_iocb_poll {
	PADDED(int events, __pad1);
};

/* Socket-address form (unused by the kernel today; kept for source compatibility). */
struct io_iocb_sockaddr {
	PADDEDptr(struct sockaddr *addr, __pad1);
	PADDEDul(len, __pad2);
};

/* IO_CMD_PREAD/PWRITE/FSYNC/FDSYNC: buffer, length, file offset, and the eventfd to
 * signal on completion when flags has IOCB_FLAG_RESFD (bit 0) set. */
struct io_iocb_common {
	PADDEDptr(void *buf, __pad1);
	PADDEDul(nbytes, __pad2);
	long long offset;
	long long __pad3;
	unsigned flags;
	unsigned resfd;
};

/* IO_CMD_PREADV/PWRITEV: iovec array, its length, and the file offset. */
struct io_iocb_vector {
	PADDEDptr(const struct iovec *vec, __pad1);
	PADDEDul(nr, __pad2);
	long long offset;
};

/* One request: the kernel's struct iocb. */
struct iocb {
	PADDEDptr(void *data, __pad1);		/* returned in io_event.data */
	PADDED(unsigned key, aio_rw_flags);	/* key: set by the kernel; RWF_* flags */
	short aio_lio_opcode;			/* io_iocb_cmd_t */
	short aio_reqprio;
	int aio_fildes;
	union {
		struct io_iocb_common c;
		struct io_iocb_vector v;
		struct io_iocb_poll poll;
		struct io_iocb_sockaddr saddr;
	} u;
};

/* One completion: the request's data and address, and its result (a byte count or a
 * negated errno in res). */
struct io_event {
	PADDEDptr(void *data, __pad1);
	PADDEDptr(struct iocb *obj, __pad2);
	PADDEDul(res, __pad3);
	PADDEDul(res2, __pad4);
};

/* The signal-mask argument of the io_pgetevents system call. */
struct io_sigset {
	unsigned long ss;
	unsigned long ss_len;
};

struct io_sigset_compat {
	PADDEDptr(unsigned long ss, __ss_pad);
	unsigned long ss_len;
};

#undef PADDED
#undef PADDEDptr
#undef PADDEDul

/* The layouts must be the kernel's, or requests fail with EINVAL or EFAULT. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#  define __AIOLOS_ASSERT(cond, what) static_assert(cond, what)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#  define __AIOLOS_ASSERT(cond, what) _Static_assert(cond, what)
#else
#  define __AIOLOS_ASSERT_JOIN2(a, b) a##b
#  define __AIOLOS_ASSERT_JOIN(a, b) __AIOLOS_ASSERT_JOIN2(a, b)
#  define __AIOLOS_ASSERT(cond, what) \
	typedef char __AIOLOS_ASSERT_JOIN(__aiolos_assert_, __LINE__)[(cond) ? 1 : -1]
#endif
__AIOLOS_ASSERT(sizeof(struct iocb) == 64, "struct iocb is 64 bytes");
__AIOLOS_ASSERT(sizeof(struct io_event) == 32, "struct io_event is 32 bytes");
__AIOLOS_ASSERT(offsetof(struct iocb, data) == 0, "iocb.data at 0");
__AIOLOS_ASSERT(offsetof(struct iocb, aio_lio_opcode) == 16, "iocb.aio_lio_opcode at 16");
__AIOLOS_ASSERT(offsetof(struct iocb, aio_reqprio) == 18, "iocb.aio_reqprio at 18");
__AIOLOS_ASSERT(offsetof(struct iocb, aio_fildes) == 20, "iocb.aio_fildes at 20");
__AIOLOS_ASSERT(offsetof(struct iocb, u) == 24, "iocb.u at 24");
__AIOLOS_ASSERT(offsetof(struct io_iocb_common, offset) == 16, "u.c.offset at 40");
__AIOLOS_ASSERT(offsetof(struct io_iocb_common, flags) == 32, "u.c.flags at 56");
__AIOLOS_ASSERT(offsetof(struct io_iocb_common, resfd) == 36, "u.c.resfd at 60");
__AIOLOS_ASSERT(offsetof(struct io_iocb_vector, nr) == 8 ||
		offsetof(struct io_iocb_vector, nr) == 12, "u.v.nr in the nbytes slot");
__AIOLOS_ASSERT(offsetof(struct io_iocb_vector, offset) == 16, "u.v.offset at 40");
__AIOLOS_ASSERT(offsetof(struct io_event, obj) == 8 || offsetof(struct io_event, obj) == 12,
		"io_event.obj in the second slot");
__AIOLOS_ASSERT(offsetof(struct io_event, res) == 16 || offsetof(struct io_event, res) == 20,
		"io_event.res in the third slot");
__AIOLOS_ASSERT(offsetof(struct io_event, res2) >= 24, "io_event.res2 in the fourth slot");
#if __AIOLOS_LE
__AIOLOS_ASSERT(offsetof(struct iocb, key) == 8, "iocb.key at 8");
__AIOLOS_ASSERT(offsetof(struct iocb, aio_rw_flags) == 12, "iocb.aio_rw_flags at 12");
__AIOLOS_ASSERT(offsetof(struct io_iocb_common, nbytes) == 8, "u.c.nbytes at 32");
__AIOLOS_ASSERT(offsetof(struct io_event, res) == 16, "io_event.res at 16");
#endif
#undef __AIOLOS_ASSERT

/* Called by io_queue_run for each completion of a request prepared with
 * io_set_callback: cb(ctx, iocb, res, res2). */
typedef void (*io_callback_t)(io_context_t ctx, struct iocb *iocb, long res, long res2);

/* Context set-up and tear-down. *ctxp must be NULL before io_setup. io_destroy waits for
 * in-flight requests and wakes every thread waiting in io_getevents (-EINVAL). */
extern int io_queue_init(int maxevents, io_context_t *ctxp);
extern int io_queue_release(io_context_t ctx);
extern int io_queue_run(io_context_t ctx);
extern int io_setup(int maxevents, io_context_t *ctxp);
extern int io_destroy(io_context_t ctx);

/* Submission: returns how many requests were queued (possibly fewer than nr). */
extern int io_submit(io_context_t ctx, long nr, struct iocb *ios[]);

/* Cancellation: file reads and writes cannot be cancelled (-EINVAL). */
extern int io_cancel(io_context_t ctx, struct iocb *iocb, struct io_event *evt);

/* Completion: waits for min_nr events (NULL timeout: no limit), returns up to nr. */
extern int io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			struct timespec *timeout);
extern int io_pgetevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout, __aiolos_sigset_t *sigmask);

/* Inline helpers: they only fill in a struct iocb (and submit it, for io_poll, io_fsync
 * and io_fdsync). */

static __AIOLOS_INLINE void __aiolos_prep(struct iocb *iocb, int fd, io_iocb_cmd_t cmd)
{
	memset(iocb, 0, sizeof(*iocb));
	iocb->aio_fildes = fd;
	iocb->aio_lio_opcode = (short)cmd;
	iocb->aio_reqprio = 0;
}

static __AIOLOS_INLINE void __aiolos_prep_rw(struct iocb *iocb, int fd, io_iocb_cmd_t cmd,
				    void *buf, size_t count, long long offset)
{
	__aiolos_prep(iocb, fd, cmd);
	iocb->u.c.buf = buf;
	iocb->u.c.nbytes = count;
	iocb->u.c.offset = offset;
}

static __AIOLOS_INLINE void io_set_callback(struct iocb *iocb, io_callback_t cb)
{
	iocb->data = __AIOLOS_FN_TO_PTR(cb);
}

static __AIOLOS_INLINE void io_prep_pread(struct iocb *iocb, int fd, void *buf, size_t count,
				 long long offset)
{
	__aiolos_prep_rw(iocb, fd, IO_CMD_PREAD, buf, count, offset);
}

static __AIOLOS_INLINE void io_prep_pwrite(struct iocb *iocb, int fd, void *buf, size_t count,
				  long long offset)
{
	__aiolos_prep_rw(iocb, fd, IO_CMD_PWRITE, buf, count, offset);
}

static __AIOLOS_INLINE void io_prep_preadv(struct iocb *iocb, int fd, const struct iovec *iov,
				  int iovcnt, long long offset)
{
	__aiolos_prep_rw(iocb, fd, IO_CMD_PREADV, (void *)iov, (size_t)iovcnt, offset);
}

static __AIOLOS_INLINE void io_prep_pwritev(struct iocb *iocb, int fd, const struct iovec *iov,
				   int iovcnt, long long offset)
{
	__aiolos_prep_rw(iocb, fd, IO_CMD_PWRITEV, (void *)iov, (size_t)iovcnt, offset);
}

static __AIOLOS_INLINE void io_prep_preadv2(struct iocb *iocb, int fd, const struct iovec *iov,
				   int iovcnt, long long offset, int flags)
{
	io_prep_preadv(iocb, fd, iov, iovcnt, offset);
	iocb->aio_rw_flags = (unsigned)flags;
}

static __AIOLOS_INLINE void io_prep_pwritev2(struct iocb *iocb, int fd, const struct iovec *iov,
				    int iovcnt, long long offset, int flags)
{
	io_prep_pwritev(iocb, fd, iov, iovcnt, offset);
	iocb->aio_rw_flags = (unsigned)flags;
}

static __AIOLOS_INLINE void io_prep_poll(struct iocb *iocb, int fd, int events)
{
	__aiolos_prep(iocb, fd, IO_CMD_POLL);
	iocb->u.poll.events = events;
}

static __AIOLOS_INLINE int io_poll(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd,
			  int events)
{
	io_prep_poll(iocb, fd, events);
	io_set_callback(iocb, cb);
	return io_submit(ctx, 1, &iocb);
}

static __AIOLOS_INLINE void io_prep_fsync(struct iocb *iocb, int fd)
{
	__aiolos_prep(iocb, fd, IO_CMD_FSYNC);
}

static __AIOLOS_INLINE int io_fsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd)
{
	io_prep_fsync(iocb, fd);
	io_set_callback(iocb, cb);
	return io_submit(ctx, 1, &iocb);
}

static __AIOLOS_INLINE void io_prep_fdsync(struct iocb *iocb, int fd)
{
	__aiolos_prep(iocb, fd, IO_CMD_FDSYNC);
}

static __AIOLOS_INLINE int io_fdsync(io_context_t ctx, struct iocb *iocb, io_callback_t cb, int fd)
{
	io_prep_fdsync(iocb, fd);
	io_set_callback(iocb, cb);
	return io_submit(ctx, 1, &iocb);
}

/* Asks the kernel to signal eventfd (add 1) when the request completes
 * (IOCB_FLAG_RESFD). */
static __AIOLOS_INLINE void io_set_eventfd(struct iocb *iocb, int eventfd)
{
	iocb->u.c.flags |= 1u << 0;
	iocb->u.c.resfd = (unsigned)eventfd;
}

#undef __AIOLOS_LE
#undef __AIOLOS_LONG_BYTES
#undef __AIOLOS_FN_TO_PTR

#ifdef __cplusplus
}
#endif

#endif /* __LIBAIO_H */
