/* exit0: a backend that does nothing. Given to secshim as its backend
 * when measuring secshim's own peak RSS: the rusage of a process that
 * exec'd keeps the larger of both images' peaks, and this one is tiny. */
int main(void) { return 0; }
