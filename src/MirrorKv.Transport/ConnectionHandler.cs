namespace MirrorKv.Transport;

/// <summary>Who a connection delivers to: a frame handler (frames, see <see cref="FrameLayout"/>) or a stream handler (another protocol's bytes).</summary>
internal readonly struct ConnectionHandler
{
    public ConnectionHandler(IFrameHandler frames) => Frames = frames ?? throw new ArgumentNullException(nameof(frames));

    public ConnectionHandler(IStreamHandler stream) => Stream = stream ?? throw new ArgumentNullException(nameof(stream));

    public IFrameHandler? Frames { get; }

    public IStreamHandler? Stream { get; }

    public void OnOpened(IConnection connection)
    {
        if (Stream is { } stream)
        {
            stream.OnOpened(connection);
        }
        else
        {
            Frames!.OnOpened(connection);
        }
    }

    public void OnClosed(IConnection connection, Exception? error)
    {
        if (Stream is { } stream)
        {
            stream.OnClosed(connection, error);
        }
        else
        {
            Frames!.OnClosed(connection, error);
        }
    }
}
