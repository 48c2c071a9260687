namespace MirrorKv.Transport;

/// <summary>A frame was posted on a closed connection, or the connection failed.</summary>
public sealed class ConnectionClosedException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ConnectionClosedException() : base("The connection is closed.") { }

    /// <summary>Creates the exception with a message.</summary>
    public ConnectionClosedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ConnectionClosedException(string message, Exception innerException) : base(message, innerException) { }
}
