// SPDX-License-Identifier: BSD-3-Clause
/*
 * failnth: make the nth allocation or syscall of the calling thread fail,
 * as iommufd's fail_nth does in the kernel.  The test executable defines
 * malloc/calloc/realloc and the syscall wrappers the library uses, so the
 * dynamic linker binds libvdpamap's calls to these (global symbol
 * interposition); the real work is done by glibc's __libc_* allocators
 * and raw syscall().  Only the thread that armed the counter is affected,
 * and only while armed, so cmocka and the simulator daemon (forked before
 * arming) are untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "failnth.h"

/* glibc's allocator under malloc():
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
extern void *__libc_malloc(size_t);
/* glibc's allocator under calloc():
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
extern void *__libc_calloc(size_t, size_t);
/* glibc's allocator under realloc():
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
extern void *__libc_realloc(void *, size_t);

static __thread long fn_armed; /* fail when the count reaches it */
static __thread long fn_count;
static __thread int fn_fired;

void failnth_arm(long nth)
{
	fn_count = 0;
	fn_fired = 0;
	fn_armed = nth;
}

long failnth_disarm(int *fired)
{
	long c = fn_count;

	if (fired)
		*fired = fn_fired;
	fn_armed = 0;
	return c;
}

/* true: this call must fail */
static int hit(void)
{
	if (!fn_armed)
		return 0;
	if (++fn_count != fn_armed)
		return 0;
	fn_fired = 1;
	return 1;
}

void *malloc(size_t n)
{
	if (hit()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (hit()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (hit()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}

static long sys_ret(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#define FAIL_WITH(e)                 \
	do {                         \
		if (hit()) {         \
			errno = (e); \
			return -1;   \
		}                    \
	} while (0)

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	FAIL_WITH(EIO);
	return (int)sys_ret(syscall(SYS_ioctl, fd, req, arg));
}

ssize_t write(int fd, const void *buf, size_t n)
{
	FAIL_WITH(EIO);
	return sys_ret(syscall(SYS_write, fd, buf, n));
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	FAIL_WITH(EIO);
	return sys_ret(syscall(SYS_sendmsg, fd, m, flags));
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	FAIL_WITH(EIO);
	return sys_ret(syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL));
}

int memfd_create(const char *name, unsigned int flags)
{
	FAIL_WITH(ENOMEM);
	return (int)sys_ret(syscall(SYS_memfd_create, name, flags));
}

int socket(int dom, int type, int proto)
{
	FAIL_WITH(EMFILE);
	return (int)sys_ret(syscall(SYS_socket, dom, type, proto));
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	FAIL_WITH(ECONNREFUSED);
	return (int)sys_ret(syscall(SYS_connect, fd, sa, len));
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	FAIL_WITH(EMFILE);
	return (int)sys_ret(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}

int ftruncate(int fd, off_t len)
{
	FAIL_WITH(EIO);
	return (int)sys_ret(syscall(SYS_ftruncate, fd, len));
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (hit()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
