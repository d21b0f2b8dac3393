/**
 * Messages between the kernel (PlayWidget in cogment_jupyter/notebook/widget.py) and a view.
 *
 * Kept in one file so both directions can be read side by side. The Python half is
 * cogment_jupyter/notebook/protocol.py; tests/notebook/test_protocol.py checks that the two
 * declare the same messages, fields and types.
 */

/** How a frame's single binary buffer is encoded. */
export type FrameFormat = "rgb" | "rgb-deflate" | "png" | "jpeg" | "webp";

/** Kernel -> view: one frame; the pixels travel in buffers[0], never inside the JSON. */
export interface FrameMessage {
  type: "frame";
  seq: number;
  format: FrameFormat;
  width: number;
  height: number;
  /** The last key message the kernel had seen when it made this frame (for latency). */
  key_seq?: number;
  key_view?: string;
  /** Status of the step this frame shows, so the status line moves with the picture. */
  tick?: number;
  episode_return?: number;
  /**
   * false: the kernel needs no ack for this frame alone (acks are cumulative: an ack of seq N
   * covers every frame up to N). Absent or true: ack it once painted or skipped.
   */
  ack?: boolean;
  /** When the widget traces: kernel-side timestamps of this frame and of its key (wall-clock ms). */
  trace?: Record<string, unknown>;
  /** The frame's observation as JSON (when the widget sends observations: custom front ends). */
  observation?: unknown;
}

export type KernelMessage = FrameMessage;

export type ControlAction = "pause" | "resume" | "restart" | "play_again";

export type KeyEventKind = "down" | "up" | "release";

/** The continuous inputs a view reads (cogment_jupyter/notebook/analog.py maps them to actions). */
export type AnalogSource = "pointer" | "gamepad" | "sliders";

/** View -> kernel. */
export type ViewMessage =
  | { type: "hello"; view: string }
  | {
      type: "ack";
      seq: number;
      view: string;
      /** Browser wall clock when the frame arrived and when it was painted (diagnostics). */
      recv_ms?: number;
      ack_ms?: number;
    }
  | {
      type: "keys";
      view: string;
      seq: number;
      event: KeyEventKind;
      key: string | null;
      /** Pressed keys in press order. */
      pressed: string[];
      /** Browser wall clock (ms since the epoch) of the DOM event. */
      t_ms: number;
    }
  | { type: "control"; action: ControlAction }
  | {
      /** A JSON action from a custom front end, taken as the player's next action (play.ts sends none). */
      type: "action";
      value: unknown;
      /** Browser wall clock (ms since the epoch) of the input. */
      t_ms?: number;
    }
  | {
      /** Raw positions of a continuous input. */
      type: "analog";
      view: string;
      /** pointer: [x, y] over the frame, 0..1 from its top left; gamepad: its axes (-1..1); sliders: their values. */
      source: AnalogSource;
      values: number[];
      /** gamepad: every button's value (0..1; triggers are analog). */
      buttons?: number[];
      t_ms: number;
    };

/** One on-screen slider (an action element over its bounds). */
export interface SliderSpec {
  label: string;
  min: number;
  max: number;
  step: number;
  value: number;
}

/** The gamepad axes, triggers and buttons a game reads. */
export interface GamepadSpec {
  axes: number[];
  triggers: number[];
  buttons: number[];
}

/** The continuous inputs a game reads (PlayWidget.inputs). */
export interface InputsSpec {
  pointer?: string;
  gamepad?: GamepadSpec;
  sliders?: SliderSpec[];
}

/** Synced traits of PlayWidget. */
export interface PlayModel {
  tick: number;
  episode_return: number;
  state: string;
  message: string;
  paused: boolean;
  fps: number;
  key_hints: Record<string, string>;
  focused: boolean;
  zoom: number;
  title: string;
  /** How the widget's input travels, when the person should know (see comm_routing.py). */
  notice: string;
  /** The continuous inputs the view reads (pointer, gamepad, sliders): an InputsSpec. */
  inputs: Record<string, unknown>;
  /** The player's action space (cogment_jupyter.adapters.spaces JSON), for front ends that build actions. */
  action_space: Record<string, unknown>;
  /** Whether frames come with their observation. */
  send_observations: boolean;
}

export function isFrameMessage(msg: unknown): msg is FrameMessage {
  if (typeof msg !== "object" || msg === null) return false;
  const m = msg as Record<string, unknown>;
  return (
    m.type === "frame" &&
    typeof m.seq === "number" &&
    typeof m.format === "string" &&
    typeof m.width === "number" &&
    typeof m.height === "number"
  );
}
