package ldap

// SetAfterFind has f run between lockEntry's first find and its lock.
func SetAfterFind(c *Client, f func()) { c.afterFind = f }
