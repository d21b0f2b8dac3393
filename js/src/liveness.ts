/**
 * Whether the kernel behind a view still holds its widget.
 *
 * A restarted, shut down or dead kernel has lost the widget's Python side: the game shown is
 * over for good and nothing sent from the view can arrive. The view learns it from the kernel
 * connection of the page's widget manager (JupyterLab, Notebook 7), from ipywidgets marking the
 * model's comm dead (any host that does), and from a send that throws.
 */

/** The part of a @jupyterlab/services signal used here (no dependency on the package). */
interface SignalLike<T> {
  connect(slot: (sender: unknown, args: T) => void): unknown;
  disconnect(slot: (sender: unknown, args: T) => void): unknown;
}

/** The part of a kernel connection used here. */
export interface KernelLike {
  status?: string;
  isDisposed?: boolean;
  statusChanged?: SignalLike<string>;
  disposed?: SignalLike<void>;
}

/** Why a kernel status means the widget is gone, or null while it is alive. */
export function goneReason(status: string | undefined | null): string | null {
  switch (status) {
    case "restarting":
      return "the kernel restarted";
    case "autorestarting":
      return "the kernel died and was restarted";
    case "dead":
      return "the kernel died";
    case "terminating":
      return "the kernel was shut down";
    default:
      return null;
  }
}

/** The element ipywidgets marks when the model's comm is dead (a restart, a closed connection). */
const DISCONNECTED = "jupyter-widgets-disconnected";

/**
 * Call `onGone(reason)` once when the kernel goes away; returns the cleanup.
 * `kernel` may be null (hosts without a widget manager kernel): the comm signals still work.
 */
export function watchKernel(
  kernel: KernelLike | null | undefined,
  el: HTMLElement,
  onModelEvent: (event: string, fn: () => void) => void,
  onGone: (reason: string) => void,
): () => void {
  let done = false;
  const gone = (reason: string | null) => {
    if (done || reason === null) return;
    done = true;
    onGone(reason);
  };
  const onStatus = (_: unknown, status: string) => gone(goneReason(status));
  const onDisposed = () => gone("the kernel was shut down");
  kernel?.statusChanged?.connect(onStatus);
  kernel?.disposed?.connect(onDisposed);
  // ipywidgets toggles the class on the view's element after it flips comm_live
  onModelEvent("comm_live_update", () =>
    queueMicrotask(() => {
      if (el.classList.contains(DISCONNECTED) || el.closest(`.${DISCONNECTED}`)) gone("the kernel restarted");
    }),
  );
  if (kernel?.isDisposed) gone("the kernel was shut down");
  else gone(goneReason(kernel?.status));
  return () => {
    kernel?.statusChanged?.disconnect(onStatus);
    kernel?.disposed?.disconnect(onDisposed);
  };
}
