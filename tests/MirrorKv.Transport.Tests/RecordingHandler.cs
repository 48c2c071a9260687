using System.Collections.Concurrent;
using MirrorKv.Protocol;

namespace MirrorKv.Transport.Tests;

/// <summary>A frame handler that records what arrives, and the events of its connection, for tests to wait on.</summary>
internal sealed class RecordingHandler : IMessageHandler
{
    private readonly ConcurrentQueue<FrameRecord> _frames = new();
    private int _batches;
    private int _closes;

    public IReadOnlyCollection<FrameRecord> Frames => _frames;

    public int Batches => Volatile.Read(ref _batches);

    /// <summary>How many times OnClosed was called: once per connection, whoever closed it.</summary>
    public int Closes => Volatile.Read(ref _closes);

    /// <summary>The error OnClosed reported (null for a clean close).</summary>
    public Exception? CloseError { get; private set; }

    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<IConnection> Opened { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Action<IConnection>? OnOpenedHook { get; set; }

    /// <summary>Called for each frame after it is recorded, on the transport's thread: a server's answer.</summary>
    public Action<IConnection, FrameRecord>? OnFrameHook { get; set; }

    /// <summary>The connection opened last (a listener's handler sees every accepted one).</summary>
    public IConnection? LastOpened { get; private set; }

    public void OnOpened(IConnection connection)
    {
        LastOpened = connection;
        OnOpenedHook?.Invoke(connection);
        Opened.TrySetResult(connection);
    }

    public void OnFrame(IConnection connection, in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        var frame = new FrameRecord(header, payload.ToArray());
        _frames.Enqueue(frame);
        OnFrameHook?.Invoke(connection, frame);
    }

    public void OnBatchEnd(IConnection connection) => Interlocked.Increment(ref _batches);

    public void OnClosed(IConnection connection, Exception? error)
    {
        CloseError = error;
        Interlocked.Increment(ref _closes);
        Closed.TrySetResult();
    }

    public Task WaitForFramesAsync(int count) =>
        Waits.UntilAsync(() => _frames.Count >= count, $"{count} frames to arrive", context: () => $"{_frames.Count} of {count} frames arrived");

    public Task WaitClosedAsync() => Waits.ForAsync(Closed.Task, "the connection to report closed");
}
