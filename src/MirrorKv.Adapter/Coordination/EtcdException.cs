namespace MirrorKv.Adapter;

/// <summary>etcd answered with an error.</summary>
internal class EtcdException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>No etcd endpoint could be reached.</summary>
internal sealed class EtcdUnavailableException(string message, Exception? inner) : EtcdException(message, inner);
