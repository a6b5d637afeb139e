/*
 * berth pause program.
 *
 * The "infra" process of every berth pod sandbox. It holds the pod's
 * namespaces (network, IPC, optionally PID) open and otherwise does nothing:
 *
 *   - waits in pause() so it uses no CPU;
 *   - exits 0 on SIGTERM / SIGINT so `docker stop` is fast and clean
 *     (as PID 1 in a namespace the kernel drops signals that have no
 *     handler, so explicit handlers are required);
 *   - reaps zombies on SIGCHLD: when the pod shares one PID namespace this
 *     process is PID 1 there and inherits every orphaned process.
 *
 * Build: gcc -static -O2 -o pause pause.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERSION "berth-pause 1.0"

static void on_term(int sig) {
  (void)sig;
  /* _exit is async-signal-safe; nothing to flush or clean up. */
  _exit(0);
}

static void on_chld(int sig) {
  (void)sig;
  int saved = errno;
  /* Several children may have died while the signal was pending: loop. */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int install(int sig, void (*handler)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("%s\n", VERSION);
    return 0;
  }

  if (install(SIGTERM, on_term, 0) < 0 || install(SIGINT, on_term, 0) < 0) {
    perror("pause: sigaction(SIGTERM/SIGINT)");
    return 1;
  }
  /* SA_NOCLDSTOP: stopped children are not zombies; SA_RESTART: harmless. */
  if (install(SIGCHLD, on_chld, SA_NOCLDSTOP | SA_RESTART) < 0) {
    perror("pause: sigaction(SIGCHLD)");
    return 1;
  }

  if (getpid() != 1) {
    fprintf(stderr, "pause: warning: not running as PID 1 (pid %d)\n", (int)getpid());
  }

  /* Reap anything that was already a zombie before the handler existed. */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }

  for (;;) {
    pause();
  }
  /* not reached */
  return 42;
}
