"""A ``DatalogSP`` that reads every message and keeps nothing: what grpc.aio itself costs per
sample, the reference of ``bench/datastore.py`` section 2. Prints its address, serves until killed.

    uv run python bench/bare_datalog.py
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

from cogment_jupyter.proto import datalog_pb2, datalog_pb2_grpc


class Discard(datalog_pb2_grpc.DatalogSPServicer):
    async def RunTrialDatalog(self, request_iterator, context: grpc.aio.ServicerContext) -> None:
        first = await context.read()  # (as the datastore reads: context.read, params first)
        if first is grpc.aio.EOF:
            return
        await context.write(datalog_pb2.RunTrialDatalogOutput())
        while await context.read() is not grpc.aio.EOF:
            pass


async def main() -> None:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 256 * 1024 * 1024)])
    datalog_pb2_grpc.add_DatalogSPServicer_to_server(Discard(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"bare datalog serving on grpc://127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
