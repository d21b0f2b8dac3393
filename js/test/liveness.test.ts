import { describe, expect, it } from "vitest";
import { goneReason, watchKernel, type KernelLike } from "../src/liveness";

class FakeSignal<T> {
  slots: ((sender: unknown, args: T) => void)[] = [];
  connect(slot: (sender: unknown, args: T) => void) {
    this.slots.push(slot);
  }
  disconnect(slot: (sender: unknown, args: T) => void) {
    this.slots = this.slots.filter((s) => s !== slot);
  }
  emit(args: T) {
    for (const s of [...this.slots]) s(null, args);
  }
}

function fakeKernel(status = "idle") {
  const statusChanged = new FakeSignal<string>();
  const disposed = new FakeSignal<void>();
  const kernel: KernelLike = { status, isDisposed: false, statusChanged, disposed };
  return { kernel, statusChanged, disposed };
}

function fakeElement(disconnected = false): HTMLElement {
  return {
    classList: { contains: () => disconnected },
    closest: () => null,
  } as unknown as HTMLElement;
}

describe("goneReason", () => {
  it("names the statuses of a kernel that lost its widgets", () => {
    expect(goneReason("restarting")).toBe("the kernel restarted");
    expect(goneReason("autorestarting")).toBe("the kernel died and was restarted");
    expect(goneReason("dead")).toBe("the kernel died");
    expect(goneReason("terminating")).toBe("the kernel was shut down");
  });
  it("is null while the kernel works", () => {
    for (const s of ["idle", "busy", "starting", "unknown", undefined, null]) expect(goneReason(s)).toBeNull();
  });
});

describe("watchKernel", () => {
  it("reports a restart once, and stops listening on cleanup", () => {
    const { kernel, statusChanged } = fakeKernel();
    const reasons: string[] = [];
    const stop = watchKernel(kernel, fakeElement(), () => {}, (r) => reasons.push(r));
    statusChanged.emit("busy");
    expect(reasons).toEqual([]);
    statusChanged.emit("restarting");
    statusChanged.emit("dead");
    expect(reasons).toEqual(["the kernel restarted"]);
    stop();
    expect(statusChanged.slots).toEqual([]);
  });
  it("reports a kernel shut down (its connection disposed)", () => {
    const { kernel, disposed } = fakeKernel();
    const reasons: string[] = [];
    watchKernel(kernel, fakeElement(), () => {}, (r) => reasons.push(r));
    disposed.emit();
    expect(reasons).toEqual(["the kernel was shut down"]);
  });
  it("reports a kernel already dead when the view renders", () => {
    const { kernel } = fakeKernel("dead");
    const reasons: string[] = [];
    watchKernel(kernel, fakeElement(), () => {}, (r) => reasons.push(r));
    expect(reasons).toEqual(["the kernel died"]);
  });
  it("reports a comm that ipywidgets marked dead, with no kernel to watch", async () => {
    const handlers: Record<string, () => void> = {};
    const reasons: string[] = [];
    watchKernel(null, fakeElement(true), (event, fn) => (handlers[event] = fn), (r) => reasons.push(r));
    handlers["comm_live_update"]();
    await Promise.resolve();
    expect(reasons).toEqual(["the kernel restarted"]);
  });
  it("ignores a comm that comes back alive", async () => {
    const handlers: Record<string, () => void> = {};
    const reasons: string[] = [];
    watchKernel(null, fakeElement(false), (event, fn) => (handlers[event] = fn), (r) => reasons.push(r));
    handlers["comm_live_update"]();
    await Promise.resolve();
    expect(reasons).toEqual([]);
  });
});
