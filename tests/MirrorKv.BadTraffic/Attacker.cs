using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.BadTraffic;

/// <summary>
/// Runs every misbehaviour against one node until stopped: garbage, bad handshakes, malformed and
/// out-of-bounds requests, stale epochs, truncated frames, slow senders, slow readers, connection floods.
/// </summary>
internal sealed class Attacker(IPEndPoint target, ulong staleEpoch, Tally tally, CancellationToken stop)
{
    private const int FloodSize = 1500;

    // Eight slow readers at once ask for 512 MiB of replies: a node without backpressure would hold it all.
    private const int SlowReaders = 8;

    public async Task RunAsync() => await Task.WhenAll([
        Loop("garbage", GarbageAsync),
        Loop("bad-handshake", BadHandshakeAsync),
        Loop("malformed", MalformedAsync),
        Loop("truncated", TruncatedAsync),
        Loop("slow-sender", SlowSenderAsync),
        .. Enumerable.Range(0, SlowReaders).Select(_ => Loop("slow-reader", SlowReaderAsync)),
        Loop("flood", FloodAsync),
    ]);

    private async Task Loop(string name, Func<Random, Task> attack)
    {
        var random = new Random(name.GetHashCode(StringComparison.Ordinal) ^ target.Port);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await attack(random);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                tally.Add($"{name}.reset");
            }
        }
    }

    private async Task<Socket> ConnectAsync(int receiveBuffer = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer > 0)
        {
            socket.ReceiveBufferSize = receiveBuffer;
        }

        try
        {
            await socket.ConnectAsync(target, stop);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return socket;
    }

    private async Task GarbageAsync(Random random)
    {
        using Socket socket = await ConnectAsync();
        var garbage = new byte[random.Next(1, 4096)];
        random.NextBytes(garbage);
        await socket.SendAsync(garbage, stop);
        tally.Add("garbage.sent");
        await DrainUntilClosedAsync(socket, "garbage", TimeSpan.FromSeconds(1));
    }

    private async Task BadHandshakeAsync(Random random)
    {
        using Socket socket = await ConnectAsync();
        byte[] hello = Frames.Hello();
        byte[] bytes = random.Next(4) switch
        {
            0 => "GET / HTTP/1.1\r\nHost: mirrorkv\r\n\r\n"u8.ToArray(),
            1 => [.. hello[..16], (byte)'X', .. hello[17..]],
            2 => Frames.Read(1, new RemotePointer(1, 4096, 64)),
            _ => [0xff, 0xff, 0xff, 0x7f, .. hello[4..]],
        };
        await socket.SendAsync(bytes, stop);
        tally.Add("bad-handshake.sent");
        await DrainUntilClosedAsync(socket, "bad-handshake", TimeSpan.FromSeconds(1));
    }

    private async Task MalformedAsync(Random random)
    {
        using Socket socket = await ConnectAsync();
        await socket.SendAsync(Frames.Hello(), stop);
        if (await Frames.ReadHelloAsync(socket, stop) is not { } region)
        {
            tally.Add("malformed.no-hello");
            return;
        }

        for (int i = 0; i < 200 && !stop.IsCancellationRequested; i++)
        {
            await socket.SendAsync(MalformedFrame(random, region), stop);
            tally.Add("malformed.sent");
        }

        await DrainUntilClosedAsync(socket, "malformed", TimeSpan.FromMilliseconds(200));
    }

    private byte[] MalformedFrame(Random random, RegionInfo region)
    {
        switch (random.Next(8))
        {
            case 0:
                return Frames.Frame((Opcode)random.Next(0x40, 0x7f), 1, new byte[random.Next(64)]);
            case 1:
                return Frames.Frame(Opcode.Read, 2, new byte[random.Next(ReadRequest.Size)]);
            case 2:
                ulong address = random.Next(3) switch
                {
                    0 => region.BaseAddress - (ulong)random.Next(1, 4096),
                    1 => region.BaseAddress + region.Length - (ulong)random.Next(0, 32),
                    _ => ulong.MaxValue - (ulong)random.Next(64),
                };
                return Frames.Read(3, new RemotePointer(random.Next(2) == 0 ? region.RKey : (uint)random.Next(), address, (uint)random.Next(0, 1 << 20)));
            case 3:
                return Frames.Frame(Opcode.Replicate, 4, new byte[random.Next(16, 128)]);
            case 4:
                var write = new KvRequest(staleEpoch, default, "bad-traffic-key"u8, "must never be stored"u8);
                var payload = new byte[write.Size];
                write.Write(payload);
                return Frames.Frame(random.Next(2) == 0 ? Opcode.Write : Opcode.Delete, 5, payload);
            case 5:
                var garbage = new byte[random.Next(0, 200)];
                random.NextBytes(garbage);
                if (garbage.Length >= 8)
                {
                    // An epoch above the pair's would fence a node by design: keep the garbage's epoch stale.
                    BinaryPrimitives.WriteUInt64LittleEndian(garbage, staleEpoch);
                }

                return Frames.Frame(random.Next(2) == 0 ? Opcode.Write : Opcode.Update, 6, garbage);
            case 6:
                return Frames.Frame(Opcode.Hello, 7, Frames.Hello()[FrameHeader.Size..]);
            default:
                return Frames.Frame(Opcode.Translation, 8, new byte[random.Next(16)]);
        }
    }

    private async Task TruncatedAsync(Random random)
    {
        using Socket socket = await ConnectAsync();
        await socket.SendAsync(Frames.Hello(), stop);
        byte[] frame = Frames.Read(1, new RemotePointer(1, 4096, 64));
        await socket.SendAsync(frame.AsMemory(0, random.Next(1, frame.Length)), stop);
        tally.Add("truncated.sent");
    }

    private async Task SlowSenderAsync(Random random)
    {
        using Socket socket = await ConnectAsync();
        byte[] hello = Frames.Hello();
        tally.Add("slow-sender.started");
        for (int i = 0; i < hello.Length && !stop.IsCancellationRequested; i++)
        {
            await socket.SendAsync(hello.AsMemory(i, 1), stop);
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 1500)), stop);
        }

        tally.Add("slow-sender.survived");
    }

    private async Task SlowReaderAsync(Random random)
    {
        using Socket socket = await ConnectAsync(receiveBuffer: 4096);
        await socket.SendAsync(Frames.Hello(), stop);
        if (await Frames.ReadHelloAsync(socket, stop) is not { } region)
        {
            return;
        }

        // 64 MiB of replies asked for, none read.
        byte[] read = Frames.Read(9, new RemotePointer(region.RKey, region.BaseAddress, 64 * 1024));
        byte[] many = new byte[read.Length * 1024];
        for (int i = 0; i < 1024; i++)
        {
            read.CopyTo(many, i * read.Length);
        }

        tally.Add("slow-reader.started");
        using var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        sendTimeout.CancelAfter(TimeSpan.FromSeconds(random.Next(20, 40)));
        try
        {
            await socket.SendAsync(many, sendTimeout.Token);
            await Task.Delay(Timeout.Infinite, sendTimeout.Token);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            tally.Add("slow-reader.held");
        }
    }

    private async Task FloodAsync(Random random)
    {
        var sockets = new List<Socket>(FloodSize);
        try
        {
            for (int i = 0; i < FloodSize && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    sockets.Add(await ConnectAsync());
                    tally.Add("flood.opened");
                }
                catch (SocketException)
                {
                    tally.Add("flood.connect-failed");
                }
            }

            // Hold them all open for a while, as a flood would.
            await Task.Delay(TimeSpan.FromSeconds(random.Next(1, 3)), stop);
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private async Task DrainUntilClosedAsync(Socket socket, string name, TimeSpan limit)
    {
        var buffer = new byte[64 * 1024];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(limit);
        try
        {
            while (await socket.ReceiveAsync(buffer, timeout.Token) > 0)
            {
            }

            tally.Add($"{name}.closed-by-node");
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            tally.Add($"{name}.still-open");
        }
    }
}
